import Foundation
import Testing

/// A library to preload (`LD_PRELOAD`) into photosearch that kills it with
/// SIGKILL at a chosen point: no handler, no clean-up, as `kill -9` at that
/// instant. Built once per test run with the toolchain's clang; the points
/// come from the child's environment:
/// - `PHOTOSEARCH_KILL_AT_WRITE=N`: the N-th write (write, writev, pwrite,
///   pwrite64; to any descriptor but standard error), before it happens.
///   These are the indexer's output lines and SQLite's database, journal and
///   WAL writes, so N chosen at random lands between events or inside a
///   transaction, the same place in every run with the same work.
/// - `PHOTOSEARCH_COUNT_WRITES=FILE`: at exit, the number of those writes
///   into FILE, to choose N for a run that does the same work.
/// - `PHOTOSEARCH_KILL_BEFORE_RENAME=SUFFIX`: a rename(2) to a name ending in
///   SUFFIX, before it happens.
///
/// And one that moves memory: `PHOTOSEARCH_ENTRIES_AT_PAGE_END=1` gives each
/// directory entry readdir(3) returns as the last bytes of a page, its name's
/// NUL (rounded up to 8 bytes) the last byte before a page that cannot be
/// read, as the last entry of the kernel's buffer can be: reading past the
/// name crashes every time instead of once in a while.
enum FaultInjection {
    static let library: String = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-fault-injection-\(getpid())")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let source = folder.appendingPathComponent("kill.c").path, library = folder.appendingPathComponent("kill.so").path
        try? """
            #define _GNU_SOURCE
            #include <dlfcn.h>
            #include <signal.h>
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>
            #include <dirent.h>
            #include <stddef.h>
            #include <sys/mman.h>
            #include <sys/types.h>
            #include <sys/uio.h>
            #include <unistd.h>

            static long killAt = -1;
            static long writes = 0;

            __attribute__((constructor)) static void start(void) {
                const char *value = getenv("PHOTOSEARCH_KILL_AT_WRITE");
                if (value) killAt = atol(value);
                if (getenv("PHOTOSEARCH_COUNT_WRITES")) killAt = 0;
            }

            __attribute__((destructor)) static void stop(void) {
                const char *path = getenv("PHOTOSEARCH_COUNT_WRITES");
                FILE *file = path ? fopen(path, "w") : NULL;
                if (file) { fprintf(file, "%ld\\n", __atomic_load_n(&writes, __ATOMIC_SEQ_CST)); fclose(file); }
            }

            static void counted(int descriptor) {
                if (descriptor == 2 || killAt < 0) return;
                if (__atomic_add_fetch(&writes, 1, __ATOMIC_SEQ_CST) == killAt) kill(getpid(), SIGKILL);
            }

            typedef ssize_t (*Write)(int, const void *, size_t);
            typedef ssize_t (*WriteVector)(int, const struct iovec *, int);
            typedef ssize_t (*WriteAt)(int, const void *, size_t, off_t);
            typedef ssize_t (*WriteAt64)(int, const void *, size_t, off64_t);
            typedef int (*Rename)(const char *, const char *);

            ssize_t write(int descriptor, const void *bytes, size_t count) {
                counted(descriptor);
                return ((Write)dlsym(RTLD_NEXT, "write"))(descriptor, bytes, count);
            }
            ssize_t writev(int descriptor, const struct iovec *vectors, int count) {
                counted(descriptor);
                return ((WriteVector)dlsym(RTLD_NEXT, "writev"))(descriptor, vectors, count);
            }
            ssize_t pwrite(int descriptor, const void *bytes, size_t count, off_t offset) {
                counted(descriptor);
                return ((WriteAt)dlsym(RTLD_NEXT, "pwrite"))(descriptor, bytes, count, offset);
            }
            ssize_t pwrite64(int descriptor, const void *bytes, size_t count, off64_t offset) {
                counted(descriptor);
                return ((WriteAt64)dlsym(RTLD_NEXT, "pwrite64"))(descriptor, bytes, count, offset);
            }
            typedef struct dirent *(*ReadDirectory)(DIR *);
            static char *guarded = NULL;

            struct dirent *readdir(DIR *directory) {
                struct dirent *entry = ((ReadDirectory)dlsym(RTLD_NEXT, "readdir"))(directory);
                if (!entry || !getenv("PHOTOSEARCH_ENTRIES_AT_PAGE_END")) return entry;
                long page = sysconf(_SC_PAGESIZE);
                if (!guarded) {
                    guarded = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                    if (guarded == MAP_FAILED) abort();
                    if (mprotect(guarded + page, page, PROT_NONE) != 0) abort();
                }
                size_t length = (offsetof(struct dirent, d_name) + strlen(entry->d_name) + 1 + 7) & ~(size_t)7;
                struct dirent *moved = (struct dirent *)(guarded + page - length);
                memmove(moved, entry, length);
                moved->d_reclen = (unsigned short)length;
                return moved;
            }
            struct dirent64 *readdir64(DIR *directory) { return (struct dirent64 *)readdir(directory); }

            int rename(const char *from, const char *to) {
                const char *suffix = getenv("PHOTOSEARCH_KILL_BEFORE_RENAME");
                size_t length = strlen(to), suffixLength = suffix ? strlen(suffix) : 0;
                if (suffix && length >= suffixLength && strcmp(to + length - suffixLength, suffix) == 0) kill(getpid(), SIGKILL);
                return ((Rename)dlsym(RTLD_NEXT, "rename"))(from, to);
            }
            """.write(toFile: source, atomically: true, encoding: .utf8)
        let built = try? CommandRunner.run(executable: URL(fileURLWithPath: "/usr/bin/env"), ["clang", "-shared", "-fPIC", "-O1", "-o", library, source])
        #expect(built?.status == 0, "the fault-injection library did not build: \(built?.standardError ?? "clang did not start")")
        return library
    }()
}
