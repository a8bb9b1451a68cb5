// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "photosearch",
    products: [
        .executable(name: "photosearch", targets: ["photosearch"]),
        .library(name: "CLIP", targets: ["CLIP"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "PhotoIndex", targets: ["PhotoIndex"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // C libraries from Debian, one system-library target each.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CWebP", path: "Sources/CWebP"),
        .systemLibrary(name: "CHeif", path: "Sources/CHeif"),
        // libjpeg-turbo and libpng (Debian's libjpeg-dev, libpng-dev) report
        // errors through longjmp, which cannot cross Swift frames: each decode
        // runs entirely in this small C target, which links them directly.
        .target(
            name: "CImageCodecs",
            path: "Sources/CImageCodecs",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]
        ),
        // AVX2 kernels chosen at run time (Swift itself targets baseline x86-64).
        .target(
            name: "CKernels",
            path: "Sources/CKernels",
            cSettings: [.unsafeFlags(["-O3"])]
        ),
        .target(
            name: "Imaging",
            dependencies: ["CImageCodecs", "CWebP", "CHeif"],
            path: "Sources/Imaging"
        ),
        .target(
            name: "CLIP",
            dependencies: ["CKernels", "CZlib", "Imaging"],
            path: "Sources/CLIP",
            resources: [
                .copy("Resources/bpe_simple_vocab_16e6.txt.gz"),
                .copy("Resources/LICENSE-bpe_simple_vocab_16e6.txt"),
            ]
        ),
        .target(
            name: "PhotoIndex",
            dependencies: ["CLIP", "Imaging", "CKernels", .product(name: "GRDB", package: "GRDB.swift")],
            path: "Sources/PhotoIndex"
        ),
        .executableTarget(
            name: "photosearch",
            dependencies: [
                "CLIP", "Imaging", "PhotoIndex",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/photosearch"
        ),
        // A real HTTP server on loopback and a fake model hub, for tests.
        .target(
            name: "TestSupport",
            dependencies: ["CLIP"],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "CLIPTests",
            dependencies: ["CLIP", "Imaging", "TestSupport"],
            path: "Tests/CLIPTests"
        ),
        .testTarget(
            name: "ImagingTests",
            dependencies: ["Imaging", "TestSupport"],
            path: "Tests/ImagingTests"
        ),
        .testTarget(
            name: "PhotoIndexTests",
            dependencies: ["PhotoIndex", "CLIP", "Imaging", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            path: "Tests/PhotoIndexTests"
        ),
        .testTarget(
            name: "photosearchTests",
            dependencies: ["photosearch", "TestSupport"],
            path: "Tests/photosearchTests"
        ),
    ]
)
