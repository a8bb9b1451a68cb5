/// What a photo's EXIF block says about it. Every field is optional: most
/// screenshots and exported PNGs have none.
public struct PhotoMetadata: Sendable, Equatable {
    /// How to turn the stored pixels upright; `.up` when the tag is absent.
    public var orientation: Orientation = .up
    /// DateTimeOriginal (else DateTime) as written by the camera,
    /// "YYYY-MM-DDTHH:MM:SS" in the camera's local time, plus the UTC offset
    /// ("+02:00") when OffsetTimeOriginal is present.
    public var takenAt: String?
    public var cameraMake: String?
    public var cameraModel: String?
    /// Decimal degrees, north and east positive.
    public var latitude: Double?
    public var longitude: Double?

    public init() {}

    /// "Make Model", without repeating the make when the model already starts with it.
    public var camera: String? {
        switch (cameraMake, cameraModel) {
        case (nil, nil): return nil
        case let (make?, nil): return make
        case let (nil, model?): return model
        case let (make?, model?):
            return model.lowercased().hasPrefix(make.lowercased()) ? model : "\(make) \(model)"
        }
    }
}
