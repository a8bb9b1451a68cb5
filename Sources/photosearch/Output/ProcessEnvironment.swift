import FileAccess
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What photosearch takes from its environment before anything reads it,
/// made safe for the libraries that read it after.
enum ProcessEnvironment {
    /// Locale variables that are not well-formed POSIX locale names
    /// (`language[_territory][.codeset][@modifier]`, a language of at most
    /// 8 letters) set to "C" for this process. ICU, under Foundation's date
    /// formatting, crashes (SIGSEGV in icu::Locale::init) on a language of
    /// 12 letters or more: `LANG=aaaaaaaaaaaa_b photosearch status`.
    /// photosearch prints nothing that depends on the locale.
    static func sanitizeLocale() {
        let names = ["LANG", "LANGUAGE"] + ProcessInfo.processInfo.environment.keys.filter { $0.hasPrefix("LC_") }
        for name in names {
            guard let value = getenv(name).map({ String(cString: $0) }), !value.isEmpty,
                  !isWellFormedLocale(value, list: name == "LANGUAGE") else { continue }
            setenv(name, "C", 1)
        }
    }

    /// `language[_territory][.codeset][@modifier]`: a language of 1 to 8
    /// letters, a territory of 1 to 8 letters or digits, a codeset and a
    /// modifier of 1 to 40 letters, digits, "-" or "_". LANGUAGE (gettext's)
    /// is a list of them separated by ":".
    static func isWellFormedLocale(_ value: String, list: Bool = false) -> Bool {
        if list { return value.split(separator: ":", omittingEmptySubsequences: false).allSatisfy { isWellFormedLocale(String($0)) } }
        func made(of part: Substring, _ lengths: ClosedRange<Int>, _ allowed: (Character) -> Bool) -> Bool {
            lengths.contains(part.count) && part.allSatisfy { $0.isASCII && allowed($0) }
        }
        let word: (Character) -> Bool = { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
        var rest = Substring(value)
        if let at = rest.firstIndex(of: "@") {
            guard made(of: rest[rest.index(after: at)...], 1...40, word) else { return false }
            rest = rest[..<at]
        }
        if let dot = rest.firstIndex(of: ".") {
            guard made(of: rest[rest.index(after: dot)...], 1...40, word) else { return false }
            rest = rest[..<dot]
        }
        if let underscore = rest.firstIndex(of: "_") {
            guard made(of: rest[rest.index(after: underscore)...], 1...8, { $0.isLetter || $0.isNumber }) else { return false }
            rest = rest[..<underscore]
        }
        return made(of: rest, 1...8, \.isLetter)
    }

    /// Why the current folder cannot be named (deleted, or an ancestor not
    /// searchable), nil when it can. Relative paths are made absolute
    /// against it, for the index to keep: without it, `index .` walked from
    /// "/", the whole machine. Refused at start, as git refuses.
    static func currentFolderProblem() -> String? {
        guard case let .failure(error) = FilePaths.namedCurrentDirectory() else { return nil }
        return error.number == ENOENT ? "it no longer exists (deleted, or moved away?)" : systemErrorText(error.number)
    }

    /// Sets COLUMNS, which ArgumentParser wraps help and usage to, to the
    /// terminal's width (COLUMNS as given, else the width of the terminal
    /// standard output is), 80 when neither says, never below 40: below
    /// about 30 (COLUMNS=0, a narrow terminal) its wrapping asserts in a
    /// debug build (SIGILL) and drops the text of every option in a release
    /// build. (It reads the width itself, for the exit status of a usage
    /// error too, so the variable is the one place to set it.)
    static func setHelpColumns() {
        var width = ProcessInfo.processInfo.environment["COLUMNS"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
        if width == nil {
            var size = winsize()
            if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { width = Int(size.ws_col) }
        }
        setenv("COLUMNS", String(min(max(width ?? 80, 40), 1000)), 1)
    }
}
