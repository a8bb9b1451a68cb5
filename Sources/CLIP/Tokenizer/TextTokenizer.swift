/// What a text tower needs from its tokenizer: a text in, the ids the tower
/// reads out, framed and cut to the tower's context length.
public protocol TextTokenizer: Sendable {
    /// Most ids `tokenize` returns.
    var contextLength: Int { get }
    /// One more than the largest id it can return.
    var vocabularySize: Int { get }
    /// The ids of `text`, framed by the model's start and end tokens, at
    /// most `contextLength` of them: unpadded, except for towers that read
    /// whole padded sequences (SigLIP's), which get exactly `contextLength`.
    func tokenize(_ text: String) -> [Int]
}

extension CLIPTokenizer: TextTokenizer {}
