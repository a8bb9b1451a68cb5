import ArgumentParser
import Foundation

/// Turns any library error into one line on standard error and an exit code;
/// never a stack trace.
enum Failure {
    static func exit(_ error: Error, code: Int32 = 1) -> ExitCode {
        let message = (error as? LocalizedError)?.errorDescription ?? "\(error)"
        FileHandle.standardError.write(Data("photosearch: error: \(message)\n".utf8))
        return ExitCode(code)
    }
}
