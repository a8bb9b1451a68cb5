import Foundation
import GRDB

/// Where a photo was taken: the nearest populated place to its GPS position
/// (GeoNames, built in; see `PlaceAssignment`).
public struct PhotoPlace: Sendable, Equatable, Codable {
    public var name: String
    /// Its admin-1 region (state, province, prefecture…), when known.
    public var region: String?
    /// ISO 3166-1 alpha-2.
    public var countryCode: String
    /// The country's English name.
    public var country: String
    /// From the photo's position to the place.
    public var distanceKilometres: Double

    enum CodingKeys: String, CodingKey {
        case name, region, country
        case countryCode = "country_code", distanceKilometres = "distance_km"
    }

    /// The distance to the metre: 0.00017 km, not 0.0001728238469065817.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(region, forKey: .region)
        try container.encode(countryCode, forKey: .countryCode)
        try container.encode(country, forKey: .country)
        try container.encode((distanceKilometres * 1000).rounded() / 1000, forKey: .distanceKilometres)
    }

    /// The columns `init(row:)` reads, from `places` aliased `pl`
    /// joined to `photos` aliased `p`.
    static let columns = "pl.name AS place_name, pl.region AS place_region, pl.country_code AS place_country_code, "
        + "pl.country AS place_country, p.place_distance AS place_distance"

    /// The place in a row selected with `columns`, if the photo has one.
    init?(row: Row) {
        guard let name = row["place_name"] as String?, let code = row["place_country_code"] as String?,
              let country = row["place_country"] as String? else { return nil }
        self.init(name: name, region: row["place_region"], countryCode: code, country: country,
                  distanceKilometres: row["place_distance"] ?? 0)
    }

    public init(name: String, region: String?, countryCode: String, country: String, distanceKilometres: Double) {
        self.name = name
        self.region = region
        self.countryCode = countryCode
        self.country = country
        self.distanceKilometres = distanceKilometres
    }
}
