import Foundation
import Testing
import TestSupport
@testable import PhotoServer

/// The token `serve` keeps per index between runs, on real files.
@Suite("The kept token")
struct KeptTokenTests {
    func mode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test("made once per index (mode 0600, its folder 0700), read back by the next run and through a link to the index; another index gets another")
    func keptPerIndex() throws {
        let folder = try TemporaryDirectory()
        let index = try folder.write("index.sqlite", [])
        let tokens = folder.file("state/photosearch/tokens")
        let first = try KeptToken.token(in: tokens, index: index)
        #expect(first.made && GalleryServer.isValidToken(first.token) && first.token.count == 32)
        #expect(try mode(first.file) == 0o600)
        #expect(try mode(tokens) == 0o700)
        #expect(mkdir(folder.file("probe"), 0o777) == 0)
        #expect(try mode(folder.file("state")) == mode(folder.file("probe")), "the folders above made as any folder is")
        let record = try JSONDecoder().decode(KeptToken.Record.self, from: Data(contentsOf: URL(fileURLWithPath: first.file)))
        #expect(record.index == index && record.token == first.token, "the file says which index it is for")

        #expect(try KeptToken.token(in: tokens, index: index) == KeptToken.Kept(token: first.token, file: first.file, made: false))
        try FileManager.default.createSymbolicLink(atPath: folder.file("link.sqlite"), withDestinationPath: index)
        #expect(try KeptToken.token(in: tokens, index: folder.file("link.sqlite")).token == first.token)

        let other = try KeptToken.token(in: tokens, index: try folder.write("other.sqlite", []))
        #expect(other.made && other.token != first.token && other.file != first.file)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tokens).count == 2, "no temporary file left")
    }

    @Test("an index not made yet, reached through a linked folder, keeps the token it will have once made")
    func indexNotMadeYet() throws {
        let folder = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.file("real"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder.file("link"), withDestinationPath: folder.file("real"))
        let tokens = folder.file("tokens")
        let before = try KeptToken.token(in: tokens, index: folder.file("link/sub/index.sqlite"))
        try FileManager.default.createDirectory(atPath: folder.file("real/sub"), withIntermediateDirectories: true)
        _ = try folder.write("real/sub/index.sqlite", [])
        let after = try KeptToken.token(in: tokens, index: folder.file("link/sub/index.sqlite"))
        #expect(!after.made && after.token == before.token && after.file == before.file)
        #expect(KeptToken.realPath(folder.file("link/sub/index.sqlite")) == KeptToken.realPath(folder.file("real")) + "/sub/index.sqlite")
    }

    @Test("another index's file under this one's name (a collision made on purpose, a copy), a link, or a folder others may write in, is refused")
    func notTrusted() throws {
        let folder = try TemporaryDirectory()
        let first = try folder.write("a.sqlite", []), second = try folder.write("b.sqlite", [])
        let tokens = folder.file("tokens")
        let a = try KeptToken.token(in: tokens, index: first), b = try KeptToken.token(in: tokens, index: second)
        try FileManager.default.removeItem(atPath: b.file)
        try FileManager.default.copyItem(atPath: a.file, toPath: b.file)
        #expect(throws: PhotoServerError.tokenFile(path: b.file, reason: "it is the token of \(first), not of this index (serve with --new-token to replace it)")) {
            try KeptToken.token(in: tokens, index: second)
        }
        try FileManager.default.removeItem(atPath: b.file)
        try FileManager.default.createSymbolicLink(atPath: b.file, withDestinationPath: a.file)
        #expect(throws: PhotoServerError.tokenFile(path: b.file, reason: "it is a symbolic link, not a file photosearch made")) {
            try KeptToken.token(in: tokens, index: second)
        }
        #expect(try KeptToken.token(in: tokens, index: second, replace: true).token != a.token, "--new-token replaces the link")
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: tokens)
        #expect(throws: PhotoServerError.tokenFile(path: tokens, reason: "other users may write in it (chmod 700 it)")) {
            try KeptToken.token(in: tokens, index: first)
        }
    }

    @Test("replace: a new token in the same file, which the next run reads")
    func replaced() throws {
        let folder = try TemporaryDirectory()
        let index = try folder.write("index.sqlite", [])
        let first = try KeptToken.token(in: folder.path, index: index)
        let second = try KeptToken.token(in: folder.path, index: index, replace: true)
        #expect(second.made && second.token != first.token && second.file == first.file)
        #expect(try KeptToken.token(in: folder.path, index: index).token == second.token)
        #expect(try mode(second.file) == 0o600)
    }

    @Test("servers starting at once agree on one token")
    func concurrent() async throws {
        let folder = try TemporaryDirectory()
        let index = try folder.write("index.sqlite", [])
        let path = folder.file("tokens")
        let tokens = try await withThrowingTaskGroup(of: KeptToken.Kept.self) { group in
            for _ in 0..<8 { group.addTask { try KeptToken.token(in: path, index: index) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(tokens.map(\.token)).count == 1)
        #expect(tokens.filter(\.made).count == 1, "one made it, the others read it")
        #expect(try FileManager.default.contentsOfDirectory(atPath: path).count == 1, "no temporary file left")
    }

    @Test("a kept file others may read, a FIFO, a folder or a file holding no token is refused with its name; --new-token replaces it")
    func refused() throws {
        let folder = try TemporaryDirectory()
        let index = try folder.write("index.sqlite", [])
        let kept = try KeptToken.token(in: folder.path, index: index)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: kept.file)
        #expect(throws: PhotoServerError.tokenFile(path: kept.file, reason: "other users may read it (chmod 600 it, or serve with --new-token)")) {
            try KeptToken.token(in: folder.path, index: index)
        }
        let replaced = try KeptToken.token(in: folder.path, index: index, replace: true)
        #expect(replaced.made && replaced.token != kept.token)
        #expect(try mode(kept.file) == 0o600)

        for (content, expected) in [("{\"index\":\"x\",\"token\":\"short\"}", "holds no token"), ("not json", "holds no token")] {
            try Data(content.utf8).write(to: URL(fileURLWithPath: kept.file))
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: kept.file)
            #expect(performing: { try KeptToken.token(in: folder.path, index: index) }, throws: { error in
                (error as? PhotoServerError)?.errorDescription?.contains(expected) == true
                    && (error as? PhotoServerError)?.errorDescription?.contains(kept.file) == true
            })
        }
        for (make, kind) in [({ mkfifo(kept.file, 0o600) }, "a named pipe (FIFO)"), ({ mkdir(kept.file, 0o700) }, "a folder")] as [(() -> Int32, String)] {
            try FileManager.default.removeItem(atPath: kept.file)
            #expect(make() == 0)
            #expect(performing: { try KeptToken.token(in: folder.path, index: index) }, throws: { error in
                (error as? PhotoServerError)?.errorDescription == "cannot use the token kept in \(kept.file): it is \(kind), not a regular file"
            })
        }
    }

    @Test("a folder no file can be made in is .tokenNotKept (the caller serves with a token of this run)")
    func notKept() throws {
        let folder = try TemporaryDirectory()
        let index = try folder.write("index.sqlite", [])
        let file = try folder.write("file", [1])
        #expect(performing: { try KeptToken.token(in: file + "/tokens", index: index) }, throws: { error in
            if case let .tokenNotKept(path, reason)? = error as? PhotoServerError { return path.hasPrefix(file + "/tokens") && reason == "not a directory" }
            return false
        })
    }
}
