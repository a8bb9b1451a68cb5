import Testing
import TestSupport
@testable import FileAccess

@Suite("File names as bytes")
struct FilePathsTests {
    @Test("any byte string maps to one string and back, unchanged")
    func roundTrip() {
        var generator = SplitMix64(seed: 11)
        var escaped = 0
        for _ in 0..<20_000 {
            // Mostly high bytes, so that invalid and valid sequences mix.
            let length = Int(generator.next() % 24)
            let bytes = (0..<length).map { _ -> UInt8 in
                let byte = UInt8(truncatingIfNeeded: generator.next())
                return byte == 0 ? 1 : (generator.next() % 3 == 0 ? byte & 0x7F | 1 : byte | 0x80)
            }
            let string = FilePaths.string(fromFileSystem: bytes)
            #expect(FilePaths.fileSystemBytes(string) == bytes)
            if String(validating: bytes, as: UTF8.self) == nil { escaped += 1 }
        }
        #expect(escaped > 10_000)   // most of them were not UTF-8
    }

    @Test("valid UTF-8 is kept as it is; escapes show as \\xNN; the escape range itself round-trips")
    func examples() {
        #expect(FilePaths.string(fromFileSystem: Array("Été 2019/猫.jpg".utf8)) == "Été 2019/猫.jpg")
        let latin1 = FilePaths.string(fromFileSystem: Array("lat".utf8) + [0xE9] + Array(".jpg".utf8))
        #expect(latin1.unicodeScalars.count == 8)
        #expect(FilePaths.displayed(latin1) == "lat\\xe9.jpg")
        #expect(FilePaths.displayed("plain.png") == "plain.png")
        // A name holding U+10FF80 itself (bytes F4 8F BE 80) is escaped byte by byte.
        let privateUse = Array("a\u{10FF80}b".utf8)
        let string = FilePaths.string(fromFileSystem: privateUse)
        #expect(FilePaths.fileSystemBytes(string) == privateUse)
        #expect(FilePaths.displayed(string) == "a\\xf4\\x8f\\xbe\\x80b")
        #expect(FilePaths.unicodeText(latin1) == "lat\\xe9.jpg" && !FilePaths.isUnicode(latin1) && FilePaths.isUnicode("Été.jpg"))
        // Overlong and surrogate encodings are not UTF-8: kept as bytes.
        for bytes: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xFF]] {
            #expect(FilePaths.fileSystemBytes(FilePaths.string(fromFileSystem: bytes)) == bytes)
        }
    }

    @Test("for a terminal, control characters in a name are shown escaped; for JSON, kept as the Unicode text they are")
    func controlCharacters() {
        let name = "x\u{1B}]0;PWNED\u{07}\u{1B}[2J\na\tb\u{7F}\u{9B}\u{202E}gpj.exe"
        #expect(FilePaths.displayed(name) == "x\\x1b]0;PWNED\\x07\\x1b[2J\\x0aa\\x09b\\x7f\\x9b\\u{202e}gpj.exe")
        #expect(FilePaths.unicodeText(name) == name && FilePaths.isUnicode(name))
        #expect(FilePaths.displayed("Été 2019/猫.jpg") == "Été 2019/猫.jpg")
    }

    @Test("path components without Foundation's NSString, which traps on \"//é\"")
    func components() {
        #expect(FilePaths.lastComponent("/a/b.jpg") == "b.jpg" && FilePaths.lastComponent("b.jpg") == "b.jpg")
        #expect(FilePaths.lastComponent("//é") == "é" && FilePaths.lastComponent("/a/") == "")
        #expect(FilePaths.deletingLastComponent("/a/b") == "/a" && FilePaths.deletingLastComponent("/a") == "/")
        #expect(FilePaths.deletingLastComponent("b") == "" && FilePaths.deletingLastComponent("é//") == "é/")
        #expect(FilePaths.pathExtension("/x/photo.JPG") == "JPG" && FilePaths.pathExtension("/x/.hidden") == "")
        #expect(FilePaths.pathExtension("//é") == "" && FilePaths.pathExtension("/a.b/c") == "")
    }

    @Test("a path is within a folder when it is the folder or under it, by bytes")
    func within() {
        #expect(FilePaths.isWithin("/a/b", folder: "/a/b") && FilePaths.isWithin("/a/b/c.jpg", folder: "/a/b"))
        #expect(!FilePaths.isWithin("/a/bc.jpg", folder: "/a/b") && !FilePaths.isWithin("/a", folder: "/a/b"))
        #expect(FilePaths.isWithin("/x.jpg", folder: "/") && FilePaths.isWithin("/a/b/c", folder: "/a/b/"))
        // A combining mark after the "/" joins it into one Character, which
        // String.hasPrefix("/a/b/") then does not find.
        #expect(FilePaths.isWithin("/a/b/\u{301}x.jpg", folder: "/a/b") && !"/a/b/\u{301}x.jpg".hasPrefix("/a/b/"))
        // Names that are not UTF-8 compare by their bytes too.
        let latin1 = FilePaths.string(fromFileSystem: Array("/a/".utf8) + [0xE9] + Array("/x.jpg".utf8))
        #expect(FilePaths.isWithin(latin1, folder: FilePaths.string(fromFileSystem: Array("/a/".utf8) + [0xE9])))
        #expect(!FilePaths.isWithin(latin1, folder: "/a/é"))
    }
}
