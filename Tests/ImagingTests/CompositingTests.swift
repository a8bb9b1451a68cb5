import Testing
@testable import Imaging

@Suite("Transparency composited on white")
struct CompositingTests {
    @Test("RGBA on white equals Pillow's alpha_composite over an opaque white background, value for value")
    func matchesPillow() {
        // Pixels and what Pillow 13.0.0 gives for
        // Image.alpha_composite(Image.new("RGBA", size, (255, 255, 255, 255)), image).convert("RGB").
        let rgba: [[UInt8]] = [[0, 0, 255, 0], [200, 100, 55, 0], [200, 100, 55, 1], [10, 5, 245, 128], [255, 127, 0, 254],
                               [37, 18, 218, 77], [128, 64, 127, 200], [0, 0, 255, 255], [90, 45, 165, 3]]
        let pillow: [[UInt8]] = [[255, 255, 255], [255, 255, 255], [255, 254, 254], [132, 130, 250], [255, 128, 1],
                                 [189, 183, 244], [155, 105, 155], [0, 0, 255], [253, 253, 254]]
        let image = Bitmap(width: rgba.count, height: 1, layout: .rgba, pixels: rgba.flatMap { $0 })
        let composited = image.compositedOnWhite()
        #expect(composited.layout == .rgb && composited.width == rgba.count)
        #expect(composited.pixels == pillow.flatMap { $0 })
        // An opaque picture is left as it is.
        let rgb = Bitmap(width: 1, height: 1, layout: .rgb, pixels: [1, 2, 3])
        #expect(rgb.compositedOnWhite() == rgb)
    }
}
