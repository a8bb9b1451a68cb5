// swift-tools-version:6.0
// libFuzzer targets, one per parser that takes outside bytes. A package of
// its own so that the main build never links libFuzzer; built and run by
// scripts/fuzz.sh with -sanitize=fuzzer,address.
import PackageDescription

let fuzzers = ["safetensors", "pytorch", "configuration", "image", "query", "tokenizer", "vectors", "prepared", "spiece"]

let package = Package(
    name: "PhotoSearchFuzz",
    dependencies: [.package(name: "photosearch", path: "../..")],
    targets: [.target(name: "CFuzzerDriver", path: "Sources/CFuzzerDriver")] + fuzzers.map { name in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: [
                "CFuzzerDriver",
                .product(name: "CLIP", package: "photosearch"),
                .product(name: "Imaging", package: "photosearch"),
                .product(name: "PhotoIndex", package: "photosearch"),
            ],
            path: "Sources/\(name)",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    }
)
