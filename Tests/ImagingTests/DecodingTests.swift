import Foundation
import Testing
import TestSupport
@testable import Imaging

@Suite("Decoding photos")
struct DecodingTests {
    let decoder = ImageDecoder()

    @Test("JPEG decoding equals Pillow's", arguments: [
        "rocket", "coffee-portrait", "astronaut-progressive", "coffee-64", "chelsea-orientation-6",
    ])
    func jpegMatchesPillow(name: String) throws {
        let raw = ImageDecoder(appliesOrientation: false)
        let ours = try raw.decode(path: FixtureFiles.path("photos/\(name).jpg")).bitmap
        let pillow = try decoder.decode(path: FixtureFiles.path("reference/pixels/\(name).decoded.png")).bitmap
        #expect(ours.width == pillow.width && ours.height == pillow.height)
        // Both are libjpeg-turbo with the accurate integer IDCT and fancy
        // upsampling; Debian's 2.1 and Pillow's bundled 3.x agree exactly.
        var worst = 0
        for (a, b) in zip(ours.pixels, pillow.pixels) { worst = max(worst, abs(Int(a) - Int(b))) }
        #expect(worst == 0)
    }

    @Test("PNG: RGB, greyscale and RGBA")
    func pngLayouts() throws {
        let rgb = try decoder.decode(path: FixtureFiles.path("photos/chelsea.png"))
        #expect(rgb.format == .png)
        #expect(rgb.bitmap.width == 451 && rgb.bitmap.height == 300 && rgb.bitmap.layout == .rgb)
        let grey = try decoder.decode(path: FixtureFiles.path("photos/camera.png")).bitmap
        #expect(grey.layout == .rgb)
        var isGrey = true
        for index in stride(from: 0, to: grey.pixels.count, by: 3) {
            isGrey = isGrey && grey.pixels[index] == grey.pixels[index + 1] && grey.pixels[index] == grey.pixels[index + 2]
        }
        #expect(isGrey)
        let alpha = try decoder.decode(path: FixtureFiles.path("photos/chelsea-alpha.png")).bitmap
        #expect(alpha.layout == .rgba)
        #expect(alpha.pixels[3] == 0)   // transparent corner
    }

    @Test("all eight EXIF orientations turn the photo upright", arguments: 1...8)
    func orientation(value: Int) throws {
        let upright = try decoder.decode(path: FixtureFiles.path("orientation/upright.png")).bitmap
        let photo = try decoder.decode(path: FixtureFiles.path("orientation/orientation-\(value).png"))
        #expect(photo.metadata.orientation.rawValue == value)
        #expect(photo.bitmap == upright)
    }

    @Test("a sideways JPEG reports orientation 6 and decodes upright")
    func sidewaysJPEG() throws {
        let photo = try decoder.decode(path: FixtureFiles.path("photos/chelsea-orientation-6.jpg"))
        #expect(photo.metadata.orientation == .right)
        #expect(photo.storedWidth == 300 && photo.storedHeight == 451)
        #expect(photo.bitmap.width == 451 && photo.bitmap.height == 300)
    }

    @Test("DCT scaling picks the smallest scale that keeps the short side")
    func dctScale() throws {
        #expect(ImageDecoder.dctDenominator(width: 4000, height: 3000, minimumShortSide: 224) == 8)
        #expect(ImageDecoder.dctDenominator(width: 1600, height: 1200, minimumShortSide: 224) == 4)
        #expect(ImageDecoder.dctDenominator(width: 640, height: 427, minimumShortSide: 224) == 1)
        #expect(ImageDecoder.dctDenominator(width: 640, height: 427, minimumShortSide: nil) == 1)
        let scaled = try decoder.decode(path: FixtureFiles.path("photos/rocket.jpg"), minimumShortSide: 100)
        #expect(scaled.bitmap.width == 160 && scaled.bitmap.height == 107)
        #expect(scaled.storedWidth == 640)
    }
}

@Suite("Bad image files")
struct BadFileTests {
    let decoder = ImageDecoder()

    func error(_ bytes: [UInt8], name: String = "photo.jpg", decoder: ImageDecoder = ImageDecoder()) throws -> ImagingError? {
        let scratch = try TemporaryDirectory()
        let path = try scratch.write(name, bytes)
        do {
            _ = try decoder.decode(path: path)
            return nil
        } catch {
            return error
        }
    }

    @Test("an empty file")
    func empty() throws {
        guard case .emptyFile? = try error([]) else { Issue.record("expected emptyFile"); return }
    }

    @Test("text with an image extension")
    func notAnImage() throws {
        guard case .unsupportedFormat? = try error(Array("hello, world\n".utf8)) else { Issue.record("expected unsupportedFormat"); return }
    }

    @Test("a truncated JPEG is refused, not half-decoded")
    func truncatedJPEG() throws {
        let bytes = try FixtureFiles.bytes("photos/rocket.jpg")
        guard case let .corrupt(_, format, reason)? = try error(Array(bytes.prefix(bytes.count / 2))) else {
            Issue.record("expected corrupt"); return
        }
        #expect(format == "JPEG")
        #expect(reason == "premature end of JPEG file")
    }

    @Test("a truncated PNG")
    func truncatedPNG() throws {
        let bytes = try FixtureFiles.bytes("photos/chelsea.png")
        guard case let .corrupt(_, format, _)? = try error(Array(bytes.prefix(bytes.count / 2)), name: "cat.png") else {
            Issue.record("expected corrupt"); return
        }
        #expect(format == "PNG")
    }

    @Test("garbage after a valid JPEG signature")
    func garbageJPEG() throws {
        var generator = SystemRandomNumberGenerator()
        let bytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        guard case .corrupt? = try error(bytes) else { Issue.record("expected corrupt"); return }
    }

    @Test("an image over the pixel limit is refused before decoding")
    func tooLarge() throws {
        let small = ImageDecoder(maximumPixels: 100_000)
        let bytes = try FixtureFiles.bytes("photos/rocket.jpg")
        guard case let .tooLarge(_, width, height, limit)? = try error(bytes, decoder: small) else {
            Issue.record("expected tooLarge"); return
        }
        #expect(width == 640 && height == 427 && limit == 100_000)
    }

    @Test("a missing file and a directory")
    func unreadable() throws {
        var failure: ImagingError?
        do { _ = try decoder.decode(path: "/nonexistent/photo.jpg") } catch { failure = error }
        guard case let .cannotRead(path, reason)? = failure else { Issue.record("expected cannotRead"); return }
        #expect(path == "/nonexistent/photo.jpg")
        #expect(reason == "no such file or directory")
        let scratch = try TemporaryDirectory()
        do {
            _ = try decoder.decode(path: scratch.path)
            Issue.record("a directory decoded")
        } catch {
            #expect(error.localizedDescription.hasSuffix("it is a folder, not a regular file"))
        }
    }

    @Test("an unreadable file", .enabled(if: getuid() != 0, "root reads any file"))
    func permissionDenied() throws {
        let scratch = try TemporaryDirectory()
        let path = try scratch.write("locked.jpg", try FixtureFiles.bytes("photos/rocket.jpg"))
        chmod(path, 0)
        #expect(throws: ImagingError.cannotRead(path: path, reason: "permission denied")) { try decoder.decode(path: path) }
    }
}

@Suite("WebP and HEIF")
struct OtherFormatTests {
    let decoder = ImageDecoder()

    func maximumDifference(_ a: Bitmap, _ b: Bitmap) -> Int {
        var worst = 0
        for (x, y) in zip(a.pixels, b.pixels) { worst = max(worst, abs(Int(x) - Int(y))) }
        return worst
    }

    @Test("lossy WebP decodes like Pillow's libwebp")
    func lossyWebP() throws {
        let ours = try decoder.decode(path: FixtureFiles.path("photos/chelsea.webp"))
        let pillow = try decoder.decode(path: FixtureFiles.path("reference/pixels/chelsea.decoded.png")).bitmap
        #expect(ours.format == .webp)
        #expect(ours.bitmap.width == 451 && ours.bitmap.height == 300 && ours.bitmap.layout == .rgb)
        // Debian's libwebp 1.2 and Pillow's bundled one agree exactly.
        #expect(maximumDifference(ours.bitmap, pillow) == 0)
    }

    @Test("lossless WebP with alpha is exact")
    func losslessWebP() throws {
        let ours = try decoder.decode(path: FixtureFiles.path("photos/chelsea-alpha-lossless.webp")).bitmap
        let pillow = try decoder.decode(path: FixtureFiles.path("reference/pixels/chelsea-alpha-lossless.decoded.png")).bitmap
        #expect(ours.layout == .rgba)
        #expect(ours == pillow)
    }

    @Test("HEIC decodes through libheif, with its EXIF date and camera")
    func heic() throws {
        let ours = try decoder.decode(path: FixtureFiles.path("photos/coffee.heic"))
        let pillow = try decoder.decode(path: FixtureFiles.path("reference/pixels/coffee.decoded.png")).bitmap
        #expect(ours.format == .heif)
        #expect(ours.bitmap.width == 600 && ours.bitmap.height == 400)
        // HEVC decoding is exact; Debian's libheif 1.15 and pillow-heif's 1.23
        // round YCbCr→RGB differently by one level here and there.
        #expect(maximumDifference(ours.bitmap, pillow) <= 1)
        #expect(ours.metadata.takenAt == "2024-05-17T09:41:00")
        #expect(ours.metadata.camera == "Apple iPhone 15")
    }

    @Test("truncated WebP and HEIF files are refused")
    func truncated() throws {
        for name in ["chelsea.webp", "coffee.heic"] {
            let bytes = try FixtureFiles.bytes("photos/\(name)")
            do {
                _ = try decoder.decode(bytes: Array(bytes.prefix(bytes.count / 2)), path: name)
                Issue.record("\(name) half decoded")
            } catch {
                guard case .corrupt = error else { Issue.record("\(name): \(error)"); continue }
            }
        }
    }
}
