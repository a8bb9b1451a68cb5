import ArgumentParser
import Compute
import FileAccess
import Foundation
import ModelHub
import PhotoIndex
import Synchronization

/// Exit statuses, following sysexits(3) where one fits.
enum ExitStatus {
    static let failure: Int32 = 1
    static let noModel: Int32 = 2
    static let usage: Int32 = 64            // EX_USAGE: a malformed query or date
    static let ioError: Int32 = 74          // EX_IOERR: the disk is full
    static let busy: Int32 = 75             // EX_TEMPFAIL: another writer holds the index
    static let interrupted: Int32 = 130     // 128 + SIGINT
    static let terminated: Int32 = 143      // 128 + SIGTERM
    static let hungUp: Int32 = 129          // 128 + SIGHUP

    /// 128 + the signal, as a shell reports a process it ended.
    static func stopped(by signal: Int32) -> Int32 { 128 + signal }

    static func code(for error: Error) -> Int32 {
        switch error {
        case let error as PhotoIndexError:
            switch error {
            case .writerBusy: return busy
            case .diskFull: return ioError
            case .noModel: return noModel
            case _ where error.isUsageError: return usage
            default: return failure
            }
        case is ComputeError:
            return usage
        case ModelHubError.invalidName, ModelHubError.reservedName, ModelHubError.invalidHub:
            return usage
        default:
            return failure
        }
    }
}

/// Turns any library error into one line on standard error (two for a
/// missing model: how to get one) and an exit code; never a stack trace.
enum Failure {
    static func exit(_ error: Error, code: Int32? = nil) -> ExitCode {
        if case PhotoIndexError.noModel = error { return noModel() }
        Terminal.error("photosearch: error: \(shown((error as? LocalizedError)?.errorDescription ?? "\(error)"))\n")
        return ExitCode(code ?? ExitStatus.code(for: error))
    }
}

extension Failure {
    /// An error's message as one line a terminal shows as it is: what it
    /// quotes from a hostile file (a tensor's name, a configuration's
    /// string) can hold escape sequences and newlines, shown as `\xNN`
    /// like a file name's, and be of any length, shortened past 1 000
    /// characters.
    static func shown(_ message: String) -> String {
        let line = FilePaths.displayed(message)
        return line.count > 1000 ? line.prefix(1000) + "… (\(line.count - 1000) more characters)" : line
    }

    /// The first run: no model yet, and how to get one (exit status 2).
    static func noModel() -> ExitCode {
        Terminal.error("""
            photosearch: no model installed yet. Download one once (~600 MB): photosearch models install \(ModelCatalogue.defaultName)
            photosearch: or use a model folder you already have: photosearch models import DIR (see: photosearch models list)

            """)
        return ExitCode(ExitStatus.noModel)
    }

    /// Runs a command's body, turning any library error into `exit(_:)`'s
    /// line and status (an `ExitCode` passes through).
    static func reporting<Result>(_ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch let code as ExitCode {
            throw code
        } catch {
            throw exit(error)
        }
    }

    static func reporting<Result>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let code as ExitCode {
            throw code
        } catch {
            throw exit(error)
        }
    }
}

/// Writing to the terminal's streams, with write(2): Foundation's
/// `FileHandle.write` traps on a failed write, so `> /dev/full`, or a
/// reader gone with SIGPIPE ignored (systemd's default for services), was a
/// crash with a backtrace.
enum Terminal {
    /// Standard error: a failed write is dropped (there is nowhere left to
    /// say so).
    static func error(_ text: String) {
        _ = write(2, Array(text.utf8))
    }

    static func output(_ text: String) {
        output(bytes: Array(text.utf8))
    }

    /// Standard output: one that cannot be written (a full disk, a reader
    /// gone) ends the command, as cat's and ls's end them: one line and
    /// exit status 74 (`statusAfterOutputFailure`). A command that can stop
    /// cleanly (an index run) asks to be stopped instead (`stopInstead`):
    /// what it prints after is dropped, and it ends with that status
    /// itself (`exitIfOutputFailed`), its run finished as interrupted
    /// rather than left for `status` to call killed.
    static func output(bytes: [UInt8]) {
        guard !outputFailed.load(ordering: .relaxed) else { return }
        let failure = outputClosed.load(ordering: .relaxed) ? "it is closed" : write(1, bytes).map(systemErrorText)
        guard let failure, outputFailed.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        error("photosearch: error: cannot write to the standard output: \(failure)\n")
        if let stop = stopper.withLock({ $0 }) {
            stop()
            return
        }
        Foundation.exit(statusAfterOutputFailure)
    }

    /// Makes a failed standard output call `stop` instead of exiting.
    static func stopInstead(_ stop: @escaping @Sendable () -> Void) {
        stopper.withLock { $0 = stop }
    }

    /// Ends the command if its standard output has failed.
    static func exitIfOutputFailed() throws {
        if outputFailed.load(ordering: .relaxed) { throw ExitCode(statusAfterOutputFailure) }
    }

    /// 74; or, stopped by a signal first (a closed terminal's SIGHUP, whose
    /// output then fails), that signal's status, as the run would have.
    private static var statusAfterOutputFailure: Int32 {
        let signal = stopSignal.load(ordering: .relaxed)
        return signal != 0 ? ExitStatus.stopped(by: signal) : ExitStatus.ioError
    }

    private static let stopper = Mutex<(@Sendable () -> Void)?>(nil)
    private static let outputFailed = Atomic<Bool>(false)

    /// Whether standard error is a terminal that a line can be redrawn on
    /// ("\r", erase to the end): not a file or a pipe, nor TERM=dumb (an
    /// editor's shell, which shows the escapes).
    static let redrawsLines = isatty(2) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"

    /// The signal that stopped a run, once one has (`SignalWatcher`).
    static let stopSignal = Atomic<Int32>(0)
    /// Whether standard output was closed when photosearch started (`>&-`):
    /// what the command prints cannot reach anyone.
    static let outputClosed = Atomic<Bool>(false)

    /// Standard output, for what is said along the way (a server's address,
    /// its runs): a failed write is dropped, as systemd's services ignore
    /// SIGPIPE, so that a log reader gone does not stop a server.
    static func note(_ text: String) {
        if !outputClosed.load(ordering: .relaxed) { _ = write(1, Array(text.utf8)) }
    }

    /// Writes all of `bytes` to `descriptor`; the error number if it cannot.
    private static func write(_ descriptor: Int32, _ bytes: [UInt8]) -> Int32? {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                return errno
            }
            written += result
        }
        return nil
    }

    /// Standard input, output and error opened on /dev/null where they are
    /// closed (`2>&-`), as ssh does: a file photosearch opens must not get
    /// descriptor 1 or 2 and receive what is printed.
    static func openClosedStandardDescriptors() {
        for descriptor: Int32 in 0...2 where fcntl(descriptor, F_GETFD) == -1 && errno == EBADF {
            if descriptor == 1 { outputClosed.store(true, ordering: .relaxed) }
            let opened = open("/dev/null", O_RDWR)
            if opened >= 0, opened != descriptor {
                _ = dup2(opened, descriptor)
                close(opened)
            }
        }
    }
}
