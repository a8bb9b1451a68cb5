import Testing
@testable import CLIP

@Suite("CLIP tokenizer")
struct TokenizerTests {
    static let tokenizer = try! CLIPTokenizer.standard()

    @Test("ids of a plain caption (OpenAI's published ids)")
    func plainCaption() {
        #expect(Self.tokenizer.tokenize("a photo of a cat") == [49406, 320, 1125, 539, 320, 2368, 49407])
    }

    @Test("an empty text is just the start and end tokens")
    func empty() {
        #expect(Self.tokenizer.tokenize("") == [49406, 49407])
        #expect(Self.tokenizer.tokenize(" \t\n ") == [49406, 49407])
    }

    @Test("long texts are cut to the context length, end token kept last")
    func truncation() {
        let ids = Self.tokenizer.tokenize(String(repeating: "red bicycle ", count: 100))
        #expect(ids.count == 77)
        #expect(ids.first == 49406)
        #expect(ids.last == 49407)
        #expect(!ids.dropLast().contains(49407))
    }

    @Test("case, HTML entities and curly quotes do not change the ids")
    func cleaning() {
        let plain = Self.tokenizer.tokenize("tom & jerry's \"cafe\"")
        #expect(Self.tokenizer.tokenize("TOM &amp; JERRY’S “cafe”") == plain)
        #expect(Self.tokenizer.tokenize("tom &AMP;amp; jerry's &quot;cafe&quot;") == plain)
    }

    @Test("Python's lowercase rules: final sigma")
    func finalSigma() {
        #expect(TextCleaner.clean("ΟΔΥΣΣΕΥΣ ΣΑ") == "οδυσσευς σα")
    }

    @Test("ftfy: ligatures, full width characters, control characters")
    func ftfySteps() {
        #expect(TextCleaner.clean("ﬁsh ＬＯＵＤ\u{3000}ＮＯＩＳＥ\u{0007}\u{200B}") == "fish loud noise\u{200B}")
        #expect(TextCleaner.clean("\u{1B}[31mred\u{1B}[0m") == "red")
        #expect(TextCleaner.clean("caf\u{0065}\u{0301}") == "caf\u{00E9}")
    }

    @Test("Python's html.unescape edge cases")
    func htmlUnescape() {
        func unescape(_ text: String) -> String {
            String(String.UnicodeScalarView(HTMLEntities.pythonUnescape(Array(text.unicodeScalars))))
        }
        #expect(unescape("&amp;&lt;&gt;&quot;&#39;") == "&<>\"'")
        #expect(unescape("&copy2024") == "©2024")              // legacy name without ';'
        #expect(unescape("&#x1F600;&#128512") == "😀😀")
        #expect(unescape("&#0;&#x110000;&#xD800;") == "\u{FFFD}\u{FFFD}\u{FFFD}")
        #expect(unescape("&#128;") == "€")                      // Windows-1252 remapping
        #expect(unescape("&nosuchentity; & &#; &#x;") == "&nosuchentity; & &#; &#x;")
    }

    @Test("Chinese and emoji fall back to bytes")
    func byteFallback() {
        let ids = Self.tokenizer.tokenize("猫🐶")
        #expect(ids.count > 3)
        #expect(ids.allSatisfy { $0 >= 0 && $0 < 49408 })
    }

    @Test("the pre-tokenizer splits like CLIP's regular expression")
    func preTokenizer() {
        let splitter = PreTokenizer(specialTokens: ["<start_of_text>", "<end_of_text>"])
        #expect(splitter.split("it's 2024!! <end_of_text>x") == ["it", "'s", "2", "0", "2", "4", "!!", "<end_of_text>", "x"])
        #expect(splitter.split("'dog ''s") == ["'d", "og", "''", "s"])
    }
}

@Suite("Merge tables over mapped words")
struct MergeTableTests {
    final class Owner: Sendable {}

    @Test("words rewritten after they were checked (a prepared file changed in place) end a lookup after every slot, never in a loop",
          .timeLimit(.minutes(1)))   // before the bound, this lookup never returned
    func rewrittenUnderTheTable() throws {
        let words = UnsafeMutablePointer<UInt64>.allocate(capacity: 32)
        defer { words.deallocate() }
        words.initialize(repeating: MergeTable.empty, count: 32)
        words[0] = 1 << 32 | 2
        words[1] = 0 << 32 | 3
        let table = try #require(MergeTable(words: words, count: 32, owner: Owner(), vocabularySize: 10))
        #expect(table.count == 1)
        // Every slot taken by a key that is not the one looked up.
        for slot in 0..<16 { words[2 * slot] = 7 << 32 | 7 }
        #expect(table.rule(1 << 32 | 5) == nil)
    }
}
