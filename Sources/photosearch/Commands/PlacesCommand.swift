import ArgumentParser
import Foundation
import PhotoIndex

struct PlacesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "places",
        abstract: "List where the indexed photos were taken: countries and places, with photo counts.",
        discussion: """
        Places come from the photos' GPS positions: the nearest town or city of at least 1 000 \
        inhabitants within 100 km (GeoNames, built in; no network). With NAME, only the places \
        that --place NAME and the query term in:NAME match: every place of that name, or in a \
        region or country of that name.
        """
    )

    @Argument(help: "Only the places this name matches (a city, region or country, any of its names).")
    var name: String?

    @OptionGroup var database: DatabaseOption

    @Flag(name: .long, help: "One JSON object per place: name, region, country_code, country, latitude, longitude, photos (and matched_as with NAME).")
    var json = false

    func run() throws {
        try Failure.reporting {
            let places = try PhotoLibrary(database: database.path, model: nil).places(named: name)
            // A name that matches nothing is a mistake, in JSON too (no output
            // and status 0 read as "no photos there").
            if places.isEmpty, let name { throw PhotoIndexError.unknownPlace(name) }
            if json {
                var output = ""
                for place in places { output += try JSONLines.line(PlaceLine(place: place, named: name != nil)) }
                Terminal.output(output)
                return
            }
            if places.isEmpty {
                Terminal.error("photosearch: no indexed photo has a known place (none has a GPS position within 100 km of one)\n")
                return
            }
            Terminal.output(Self.text(places))
        }
    }

    /// Countries, most photographed first, each with its places.
    static func text(_ places: [PlaceCount]) -> String {
        var countries: [String: [PlaceCount]] = [:]
        for place in places { countries[place.countryCode, default: []].append(place) }
        let ordered = countries.values.sorted { a, b in
            let (x, y) = (a.reduce(0) { $0 + $1.photos }, b.reduce(0) { $0 + $1.photos })
            return x != y ? x > y : a[0].country < b[0].country
        }
        var output = ""
        for country in ordered {
            let total = country.reduce(0) { $0 + $1.photos }
            output += "\(country[0].country) (\(country[0].countryCode))  \(total) photo\(total == 1 ? "" : "s")\n"
            for place in country {
                var line = String(format: "%7d  ", place.photos) + place.name
                if let region = place.region, region != place.name { line += ", " + region }
                if let kind = place.matchedAs, kind != .place { line += "  (by its \(kind.rawValue))" }
                output += line + "\n"
            }
        }
        return output
    }

    struct PlaceLine: Encodable {
        let place: PlaceCount
        let named: Bool

        private enum Keys: String, CodingKey {
            case name, region, countryCode = "country_code", country, latitude, longitude, photos, matchedAs = "matched_as"
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(place.name, forKey: .name)
            try container.encode(place.region, forKey: .region)
            try container.encode(place.countryCode, forKey: .countryCode)
            try container.encode(place.country, forKey: .country)
            try container.encode(place.latitude, forKey: .latitude)
            try container.encode(place.longitude, forKey: .longitude)
            try container.encode(place.photos, forKey: .photos)
            if named { try container.encode(place.matchedAs?.rawValue, forKey: .matchedAs) }
        }
    }
}
