import Foundation

/// Where photosearch keeps its files by default, following the XDG Base
/// Directory specification: data (the index, installed models) under
/// `$XDG_DATA_HOME/photosearch`, else `~/.local/share/photosearch`; caches
/// under `$XDG_CACHE_HOME/photosearch`, else `~/.cache/photosearch`; state
/// (the tokens `serve` keeps) under `$XDG_STATE_HOME/photosearch`, else
/// `~/.local/state/photosearch`. A
/// relative `XDG_*` value is ignored, as the specification says.
public struct XDGDirectories: Sendable, Equatable {
    /// `…/photosearch` under the data home.
    public let data: String
    /// `…/photosearch` under the cache home.
    public let cache: String
    /// `…/photosearch` under the state home.
    public let state: String

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        func base(_ variable: String, fallback: String) -> String {
            if let value = environment[variable], value.hasPrefix("/") { return value }
            return home + "/" + fallback
        }
        data = base("XDG_DATA_HOME", fallback: ".local/share") + "/photosearch"
        cache = base("XDG_CACHE_HOME", fallback: ".cache") + "/photosearch"
        state = base("XDG_STATE_HOME", fallback: ".local/state") + "/photosearch"
    }

    /// The index used unless told otherwise: `explicit` (`--db`), then
    /// `$PHOTOSEARCH_DB`, then `index.sqlite` in the data folder.
    public static func indexPath(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let fromEnvironment = environment["PHOTOSEARCH_DB"], !fromEnvironment.isEmpty { return fromEnvironment }
        return XDGDirectories(environment: environment).data + "/index.sqlite"
    }
}
