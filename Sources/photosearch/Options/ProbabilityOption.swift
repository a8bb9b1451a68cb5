import ArgumentParser

/// `search --min-probability`: a SigLIP model's calibrated match probability
/// exists for a query of one text, so `similar` does not offer it.
struct ProbabilityOption: ParsableArguments {
    // (Unconditional, like --min-score: a value is never an option.)
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Leave out results less likely than this to match (0 to 1).",
                                            discussion: "SigLIP models only, with a query of one text: their scores are calibrated match probabilities."))
    var minProbability: Float?

    func validate() throws {
        if let minProbability, !(minProbability > 0 && minProbability < 1) {
            throw ValidationError("--min-probability must be between 0 and 1 (exclusive).")
        }
    }
}
