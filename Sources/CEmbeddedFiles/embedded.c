// The gzip files are pulled in by the assembler (.incbin searches the header
// search path, set to files/ in Package.swift) rather than as Swift array
// literals, which take minutes to compile. SwiftPM does not see this
// dependency: touch this file after changing files/.
#include "CEmbeddedFiles.h"

#include <stdlib.h>
#include <zlib.h>

#define PS_EMBED(symbol, file)                                                                                        \
    __asm__(".section .rodata." #symbol ",\"a\",@progbits\n" #symbol "_start:\n"                                       \
            ".incbin \"" file "\"\n" #symbol "_end:\n"                                                                \
            ".previous\n");                                                                                           \
    extern const unsigned char symbol##_start[], symbol##_end[];

PS_EMBED(ps_bpe_vocabulary_gz, "bpe_simple_vocab_16e6.txt.gz")
PS_EMBED(ps_places_gz, "places.bin.gz")

// A gzip member between `start` and `end`, decompressed into a new buffer.
static unsigned char *inflated(const unsigned char *start, const unsigned char *end, size_t *length) {
    z_stream stream = {0};
    stream.next_in = (unsigned char *)start;
    stream.avail_in = (unsigned)(end - start);
    if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) return NULL;   // 16: gzip framing
    size_t capacity = 2 << 20, used = 0;
    unsigned char *text = malloc(capacity);
    int status = Z_OK;
    while (text && status == Z_OK) {
        if (used == capacity) {
            unsigned char *larger = realloc(text, capacity * 2);
            if (!larger) { free(text); text = NULL; break; }
            text = larger;
            capacity *= 2;
        }
        stream.next_out = text + used;
        stream.avail_out = (unsigned)(capacity - used);
        status = inflate(&stream, Z_NO_FLUSH);
        used = capacity - stream.avail_out;
    }
    inflateEnd(&stream);
    if (status != Z_STREAM_END) { free(text); return NULL; }
    *length = used;
    return text;
}

unsigned char *ps_bpe_vocabulary(size_t *length) {
    return inflated(ps_bpe_vocabulary_gz_start, ps_bpe_vocabulary_gz_end, length);
}

unsigned char *ps_places(size_t *length) {
    return inflated(ps_places_gz_start, ps_places_gz_end, length);
}

int ps_places_prefix(unsigned char *out, size_t count) {
    z_stream stream = {0};
    stream.next_in = (unsigned char *)ps_places_gz_start;
    stream.avail_in = (unsigned)(ps_places_gz_end - ps_places_gz_start);
    if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) return -1;
    stream.next_out = out;
    stream.avail_out = (unsigned)count;
    int status = Z_OK;
    while (status == Z_OK && stream.avail_out > 0) status = inflate(&stream, Z_NO_FLUSH);
    int filled = stream.avail_out == 0;
    inflateEnd(&stream);
    return filled ? 0 : -1;
}
