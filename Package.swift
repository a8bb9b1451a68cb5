// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "photosearch",
    products: [
        .executable(name: "photosearch", targets: ["photosearch"]),
        .library(name: "FileAccess", targets: ["FileAccess"]),
        .library(name: "Compute", targets: ["Compute"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "CLIP", targets: ["CLIP"]),
        .library(name: "ModelHub", targets: ["ModelHub"]),
        .library(name: "PhotoIndex", targets: ["PhotoIndex"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C libraries from Debian, one system-library target each.
        .systemLibrary(name: "CWebP", path: "Sources/CWebP"),
        // What downloads use, loaded with dlopen by the one command that
        // downloads: libcurl, and libcrypto's SHA-256 (their headers from
        // Debian's libcurl4-openssl-dev and libssl-dev, nothing linked).
        .target(
            name: "CDownload",
            path: "Sources/CDownload"
        ),
        // libjpeg-turbo and libpng (Debian's libjpeg-dev, libpng-dev) report
        // errors through longjmp, which cannot cross Swift frames: each decode
        // runs entirely in this small C target, which links them directly.
        // It also holds HEIF decoding: libheif and libde265 loaded with
        // dlopen on the first HEIF photo, and the libde265 decoder plugin
        // photosearch gives libheif (a table of C function pointers).
        .target(
            name: "CImageCodecs",
            path: "Sources/CImageCodecs",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]
        ),
        // Files opened the one safe way (regular files only, never blocking),
        // and paths as bytes.
        .target(
            name: "FileAccess",
            path: "Sources/FileAccess"
        ),
        // Kernels for each x86-64 level, one table per level (Swift itself
        // targets baseline x86-64); Compute chooses the table at run time.
        .target(
            name: "CKernels",
            path: "Sources/CKernels"
        ),
        .target(
            name: "Compute",
            dependencies: ["CKernels", "FileAccess"],
            path: "Sources/Compute"
        ),
        // Files compiled into the executable (the BPE vocabulary), inflated with zlib.
        .target(
            name: "CEmbeddedFiles",
            path: "Sources/CEmbeddedFiles",
            exclude: ["files"],
            cSettings: [.headerSearchPath("files")],
            linkerSettings: [.linkedLibrary("z")]
        ),
        // Offline reverse geocoding from GeoNames, built in.
        .target(
            name: "Places",
            dependencies: ["CEmbeddedFiles"],
            path: "Sources/Places"
        ),
        .target(
            name: "Imaging",
            dependencies: ["CImageCodecs", "CWebP", "FileAccess"],
            path: "Sources/Imaging"
        ),
        .target(
            name: "CLIP",
            dependencies: ["Compute", "CEmbeddedFiles", "FileAccess", "Imaging"],
            path: "Sources/CLIP"
        ),
        .target(
            name: "ModelHub",
            dependencies: ["CDownload", "CLIP", "FileAccess", "Imaging"],
            path: "Sources/ModelHub"
        ),
        .target(
            name: "PhotoIndex",
            dependencies: ["CLIP", "Compute", "FileAccess", "Imaging", "Places", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "GRDBSQLite", package: "GRDB.swift")],
            path: "Sources/PhotoIndex"
        ),
        // The web gallery: the page and its JSON API (photosearch serve).
        .target(
            name: "PhotoServer",
            dependencies: [
                "FileAccess", "Imaging", "PhotoIndex", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/PhotoServer"
        ),
        .executableTarget(
            name: "photosearch",
            dependencies: [
                "CLIP", "Compute", "FileAccess", "Imaging", "ModelHub", "PhotoIndex", "PhotoServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/photosearch"
        ),
        // Benchmarks: programs that print figures (last line JSON), run by
        // `photosearch-bench`, which is not installed with photosearch.
        .target(
            name: "PhotoSearchBenchmarks",
            dependencies: ["CLIP", "Compute", "FileAccess", "Imaging", "PhotoIndex", "Places", "TestSupport"],
            path: "Sources/PhotoSearchBenchmarks"
        ),
        .executableTarget(
            name: "photosearch-bench",
            dependencies: ["PhotoSearchBenchmarks", "ModelHub", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/photosearch-bench"
        ),
        // What tests and benchmarks share, shipped in no library: random
        // models written as checkpoints, synthetic indexes, a loopback HTTP
        // client and server, a fake model hub, fixture paths.
        .target(
            name: "TestSupport",
            dependencies: ["CTestSupport", "CLIP", "PhotoIndex", .product(name: "GRDB", package: "GRDB.swift")],
            path: "Tests/TestSupport"
        ),
        // PNGs of any size written row by row, for tests.
        .target(
            name: "CTestSupport",
            path: "Tests/CTestSupport",
            linkerSettings: [.linkedLibrary("png16")]
        ),
        .testTarget(
            name: "PlacesTests",
            dependencies: ["Places", "TestSupport"],
            path: "Tests/PlacesTests"
        ),
        .testTarget(
            name: "ComputeTests",
            dependencies: ["CKernels", "Compute", "TestSupport"],
            path: "Tests/ComputeTests"
        ),
        .testTarget(
            name: "CLIPTests",
            dependencies: ["CLIP", "Compute", "Imaging", "TestSupport"],
            path: "Tests/CLIPTests"
        ),
        .testTarget(
            name: "ModelHubTests",
            dependencies: ["ModelHub", "CLIP", "TestSupport"],
            path: "Tests/ModelHubTests"
        ),
        .testTarget(
            name: "FileAccessTests",
            dependencies: ["FileAccess", "TestSupport"],
            path: "Tests/FileAccessTests"
        ),
        .testTarget(
            name: "ImagingTests",
            dependencies: ["FileAccess", "Imaging", "TestSupport"],
            path: "Tests/ImagingTests"
        ),
        .testTarget(
            name: "PhotoIndexTests",
            dependencies: ["PhotoIndex", "CLIP", "Compute", "FileAccess", "Imaging", "Places", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            path: "Tests/PhotoIndexTests"
        ),
        .testTarget(
            name: "PhotoServerTests",
            dependencies: ["PhotoServer", "PhotoIndex", "TestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")],
            path: "Tests/PhotoServerTests"
        ),
        .testTarget(
            name: "photosearchTests",
            dependencies: ["photosearch", "TestSupport"],
            path: "Tests/photosearchTests"
        ),
    ]
)
