import Foundation
import Imaging
import Testing
@testable import CLIP

/// Resizing reproduces Pillow (via open_clip's transform) bit for bit.
@Suite("Preprocessing matches Pillow")
struct PreprocessingTests {
    /// Photos whose Pillow-decoded pixels and Pillow-resized 64 px inputs the
    /// fixture script saved (fixtures/reference/pixels).
    static let photos = [
        "chelsea.png", "rocket.jpg", "camera.png", "coffee-portrait.jpg", "astronaut-progressive.jpg",
        "chelsea-alpha.png", "chelsea-orientation-6.jpg",
    ]

    static let decoder = ImageDecoder()

    /// The photo as Pillow decoded it: PNGs decode identically; for JPEGs the
    /// fixture script saved Pillow's decoding, so that resizing is tested on
    /// the same input pixels.
    func pillowInput(_ photo: String) throws -> Bitmap {
        let stem = (photo as NSString).deletingPathExtension
        if photo.hasSuffix(".jpg") {
            var bitmap = try Self.decoder.decode(path: Fixtures.path("reference/pixels/\(stem).decoded.png")).bitmap
            if photo.contains("orientation-6") { bitmap = Orientation.right.apply(to: bitmap) }
            return bitmap
        }
        return try Self.decoder.decode(path: Fixtures.path("photos/\(photo)")).bitmap
    }

    @Test("bicubic and bilinear resize + centre crop", arguments: photos, ["bicubic", "bilinear"])
    func resizedPixels(photo: String, interpolation: String) throws {
        let stem = (photo as NSString).deletingPathExtension
        let expected = try Self.decoder.decode(path: Fixtures.path("reference/pixels/\(stem).\(interpolation)-64.png")).bitmap
        let preprocessor = ImagePreprocessor(configuration: PreprocessConfiguration(
            imageSize: 64, interpolation: interpolation == "bicubic" ? .bicubic : .bilinear))
        let pixels = preprocessor.resizedPixels(try pillowInput(photo))
        #expect(expected.layout == .rgb)
        #expect(pixels == expected.pixels)
    }

    @Test("normalisation is ToTensor then Normalize")
    func normalisation() {
        let image = Bitmap(width: 2, height: 2, layout: .rgb, pixels: [0, 128, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90])
        let values = ImagePreprocessor(configuration: PreprocessConfiguration(imageSize: 2)).pixelValues(image)
        // Channel planes (CHW): red of the four pixels, then green, then blue.
        let mean = PreprocessConfiguration.openAIMean, std = PreprocessConfiguration.openAIStd
        #expect(values[0] == (Float(0) / 255 - mean[0]) / std[0])
        #expect(values[1] == (Float(10) / 255 - mean[0]) / std[0])
        #expect(values[4] == (Float(128) / 255 - mean[1]) / std[1])
        #expect(values[8] == (Float(255) / 255 - mean[2]) / std[2])
        #expect(values.count == 12)
    }

    @Test("a 1 × 3000 panorama resizes without a huge intermediate image")
    func extremeAspectRatio() {
        // The full resize would be 64 × 192000 pixels; only the crop is computed.
        let strip = Bitmap(width: 1, height: 3000, layout: .rgb, pixels: (0..<9000).map { UInt8($0 % 251) })
        let pixels = ImagePreprocessor(configuration: PreprocessConfiguration(imageSize: 64)).resizedPixels(strip)
        #expect(pixels.count == 64 * 64 * 3)
    }

    @Test("squash resizes both sides without cropping")
    func squash() {
        let image = Bitmap(width: 8, height: 4, layout: .rgb, pixels: (0..<96).map { UInt8($0) })
        let squash = ImagePreprocessor(configuration: PreprocessConfiguration(imageSize: 4, resizeMode: .squash))
        // Left and right halves of the wide image both survive.
        let pixels = squash.resizedPixels(image)
        #expect(pixels.count == 48)
        #expect(pixels.first! < 10 && pixels[3 * 3] > 10)
    }
}
