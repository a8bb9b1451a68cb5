import Foundation
import Testing

@Suite("Absurd numbers and dates are refused: one line, exit 64, never a crash")
struct BadInputCommandTests {
    static let model = CommandRunner.fixture("models/oc-vit-gelu-p16")

    @Test("out-of-range options", arguments: [
        (["search", "cat", "--top", "100000000"], "Error: --top must be between 1 and 10000."),
        (["search", "cat", "--top", "4611686018427387904"], "Error: --top must be between 1 and 10000."),
        (["similar", "x.jpg", "--top", "0"], "Error: --top must be between 1 and 10000."),
        (["search", "cat", "--min-score", "nan"], "Error: --min-score must be between -1 and 1."),
        (["search", "cat", "--after", "2023-02-30"], "Error: invalid date \"2023-02-30\"; use YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]."),
        (["search", "cat", "--before", "2023-13"], "Error: invalid date \"2023-13\"; use YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]."),
        (["search", "cat", "--after", "2025", "--before", "2024"],
         "Error: invalid dates: after 2025-01-01T00:00:00 is not before 2024-01-01T00:00:00, so no photo can match."),
        (["similar", "x.jpg", "--after", "2024-06", "--before", "2024-06"],
         "Error: invalid dates: after 2024-06-01T00:00:00 is not before 2024-06-01T00:00:00, so no photo can match."),
        (["index", "/tmp", "--jobs", "100000"], "Error: --jobs must be between 1 and 64."),
        (["index", "/tmp", "--batch-size", "1000000"], "Error: --batch-size must be between 1 and 256."),
        (["index", "/tmp", "--every", "1e300d"], "Error: --every must be between 1s and 366d."),
        (["index", "/tmp", "--every", "0.1s"], "Error: --every must be between 1s and 366d."),
        (["duplicates", "--threshold", "nan"], "Error: --threshold must be in (-1, 1]."),
    ])
    func refused(arguments: [String], message: String) throws {
        let result = try CommandRunner.run(arguments + ["--db", "/nonexistent/index.sqlite"])
        #expect(result.status == 64)
        #expect(result.standardError.hasPrefix(message + "\n"), "\(result.standardError)")
        #expect(result.standardOutput.isEmpty)
    }

    @Test("a leap day is a date")
    func leapDay() throws {
        let result = try CommandRunner.run(["search", "cat", "--after", "2024-02-29", "--db", "/nonexistent/index.sqlite",
                                            "--model", Self.model])
        #expect(result.status == 1)
        #expect(result.standardError.hasPrefix("photosearch: error: no index at /nonexistent/index.sqlite"))
    }
}
