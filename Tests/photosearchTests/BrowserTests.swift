import Foundation
import Testing
import TestSupport

/// The gallery page in a real headless Chromium, driven as a person uses it
/// (`Browser`: key presses, clicks, touches, scrolling, the Back button),
/// against a real `photosearch serve` on loopback. Every expectation is the
/// API's own answer for the same request.
@Suite("the gallery, driven in Chromium", .serialized)
struct BrowserTests {
    typealias Gallery = ServeTests.Gallery

    struct Page: Decodable {
        struct Hit: Decodable { let id: Int64; let path: String; let weaker: Bool; let taken_at: String? }
        let results: [Hit]
        let total: Int
    }

    static let places = [("lisbon.jpg", "places/lisbon.jpg"), ("porto.jpg", "places/porto.jpg"), ("tokyo.jpg", "places/tokyo.jpg")]

    func page(_ gallery: Gallery, _ target: String) throws -> Page {
        let answer = try gallery.get(target)
        try #require(answer.status == 200, "\(target): \(answer.text)")
        return try JSONDecoder().decode(Page.self, from: Data(answer.body))
    }

    static let tiles = "[...document.querySelectorAll('#grid li[data-id]')].map(tile => tile.dataset.id)"
    static let focusedTile = "document.activeElement.dataset.id || ''"

    func ids(_ browser: Browser) throws -> [Int64] { try browser.strings(Self.tiles).compactMap { Int64($0) } }

    /// Waits until the grid shows exactly `expected`, then returns what it shows.
    @discardableResult
    func waitForTiles(_ browser: Browser, _ expected: [Int64]) throws -> [Int64] {
        _ = try? browser.wait(for: "\(Self.tiles).join(',') === \(Browser.quoted(expected.map(String.init).joined(separator: ",")))")
        return try ids(browser)
    }

    @Test("search results: the weaker matches folded behind a button, the count above, endless scrolling past 50 once unfolded")
    func weakerAndEndless() throws {
        let gallery = try Gallery(copies: 70)
        let browser = try Browser(width: 1280, height: 700)
        let all = try page(gallery, "/api/search?q=a%20photo&top=200")
        let good = all.results.prefix { !$0.weaker }.map(\.id)
        // The fixture must give both kinds, and more than a page in all.
        try #require(!good.isEmpty && good.count < all.results.count && all.results.count == 76 && all.total == 76)
        #expect(all.results.dropFirst(good.count).allSatisfy { $0.weaker }, "weaker ones come after the good ones")

        try browser.open("http://127.0.0.1:\(gallery.port)/?q=a+photo")
        #expect(try waitForTiles(browser, good) == good)
        #expect(try browser.string("document.getElementById('count').textContent")
                == "\(good.count) good match\(good.count == 1 ? "" : "es") among 76 photos; weaker ones are folded below")
        // Scrolling to the end does not unfold them.
        try browser.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        #expect(try browser.string("document.getElementById('unfold').textContent") == "Show weaker matches")
        #expect(try ids(browser) == good)

        try browser.click("#unfold")
        // The first page's 50, then the rest as the end of the grid comes
        // into view (at once, if thumbnails still loading leave the grid short).
        _ = try? browser.wait(for: "\(Self.tiles).length >= 50")
        #expect(Array(try ids(browser).prefix(50)) == all.results.prefix(50).map(\.id))
        try browser.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        #expect(try waitForTiles(browser, all.results.map(\.id)) == all.results.map(\.id))
        #expect(try browser.strings("[...document.querySelectorAll('#grid li.month')].map(item => item.textContent)") == ["Weaker matches"])
        #expect(try browser.number("document.querySelectorAll('#grid li.weaker').length") == all.results.count - good.count)
        // Their photos dimmed, not their text (a whole dimmed tile's text was 4:1 against its background).
        #expect(try browser.string("""
            (() => { const tile = document.querySelector('#grid li.weaker');
                     return [tile, tile.querySelector('.meta'), tile.querySelector('img')].map(part => getComputedStyle(part).opacity).join(' '); })()
            """) == "1 1 0.55")

        // Photos like one: ranked by likeness, no fold; 50, then the rest on scrolling.
        let like = try page(gallery, "/api/similar/\(good[0])?top=200")
        #expect(like.results.count == 75)
        try browser.open("http://127.0.0.1:\(gallery.port)/?similar=\(good[0])")
        #expect(try waitForTiles(browser, like.results.prefix(50).map(\.id)) == like.results.prefix(50).map(\.id))
        #expect(try browser.string("document.getElementById('count').textContent") == "50+ of 75 photos, most alike first")
        try browser.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        #expect(try waitForTiles(browser, like.results.map(\.id)) == like.results.map(\.id))
        #expect(browser.pageErrors.isEmpty, "\(browser.pageErrors)")

        // A later page that fails is said at the end of the grid, where the reader is, with its button.
        try browser.open("http://127.0.0.1:\(gallery.port)/?similar=\(good[0])")
        #expect(try waitForTiles(browser, like.results.prefix(50).map(\.id)) == like.results.prefix(50).map(\.id))
        try browser.evaluate("window.asked = 0; const fetched = window.fetch; window.fetch = (...request) => { window.asked++; return fetched(...request); }")
        gallery.server.signal(SIGKILL)
        _ = gallery.server.finish()
        try browser.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        try browser.wait(for: "document.querySelector('#grid li#failed-more button')")
        #expect(try browser.string("document.getElementById('failed-more').textContent")
                == "The photosearch server did not answer: it may have stopped, or this computer is offline. Try again")
        // Asked once, not again and again while the page waits (five
        // refused connections of the test's own, as long as the page's).
        let asked = try browser.number("window.asked")
        try browser.evaluate("(async () => { for (let i = 0; i < 5; i++) await fetch('/api/status').catch(() => 0); return true; })()")
        #expect(try browser.number("window.asked") == asked + 5, "the failed page was asked for again unasked")
        // Nor by scrolling about at the end (each scroll seen, two frames on).
        try browser.evaluate("""
            (async () => { const frame = () => new Promise(done => requestAnimationFrame(done));
                           for (let i = 0; i < 10; i++) { window.scrollBy(0, i % 2 ? 40 : -40); await frame(); await frame(); } return true; })()
            """)
        #expect(try browser.number("window.asked") == asked + 5, "scrolling asked for the failed page again")
        try browser.click("#failed-more button")
        try browser.wait(for: "window.asked === \(asked + 6) && document.querySelector('#grid li#failed-more button')")
    }

    @Test("keyboard only: Tab reaches a tile with a visible focus, Enter opens it, arrows move, Tab stays in the viewer, Escape returns to the tile, / types a search")
    func keyboard() throws {
        let gallery = try Gallery(photos: Self.places)
        let browser = try Browser()
        let timeline = try page(gallery, "/api/timeline").results.map(\.id)
        try browser.open("http://127.0.0.1:\(gallery.port)/")
        #expect(try waitForTiles(browser, timeline) == timeline)
        // The viewer is a modal dialog to assistive technology.
        #expect(try browser.strings("['role', 'aria-modal', 'aria-label'].map(name => document.getElementById('viewer').getAttribute(name))")
                == ["dialog", "true", "Photo"])

        // Every control on the way is one Tab further, with a visible focus.
        var reached: [String] = []
        for _ in 0..<12 where try browser.string(Self.focusedTile).isEmpty {
            try browser.press("Tab")
            reached.append(try browser.string("document.activeElement.id || document.activeElement.tagName"))
            #expect(try browser.string("""
                (() => { const style = getComputedStyle(document.activeElement);
                         return style.outlineStyle !== 'none' || style.boxShadow !== 'none' ? 'visible' : 'invisible'; })()
                """) == "visible", "\(reached.last ?? "")")
        }
        #expect(reached == ["q", "BUTTON", "file", "SUMMARY", "LI"], "the box, Search, the example photo, the filters, the first tile")
        #expect(try browser.string(Self.focusedTile) == String(timeline[0]), "\(reached)")

        try browser.press("Enter")
        try browser.wait(for: "!document.getElementById('viewer').hidden")
        #expect(try browser.address == "/?photo=\(timeline[0])")
        #expect(try browser.string("document.activeElement.id") == "close", "focus moves into the viewer")
        try browser.press("ArrowRight")
        try browser.wait(for: "location.search === '?photo=\(timeline[1])'")
        #expect(try browser.string("document.getElementById('large').getAttribute('src')") == "/api/photos/\(timeline[1])/file")
        try browser.press("ArrowLeft")
        try browser.wait(for: "location.search === '?photo=\(timeline[0])'")
        // Tab goes round the viewer's controls, never to the page behind it.
        var inViewer: Set<String> = []
        for _ in 0..<8 {
            try browser.press("Tab")
            #expect(try browser.string("document.getElementById('viewer').contains(document.activeElement) ? 'in' : document.activeElement.outerHTML.slice(0, 80)") == "in")
            inViewer.insert(try browser.string("document.activeElement.id"))
        }
        #expect(inViewer.isSuperset(of: ["close", "next", "similar", "download"]), "\(inViewer)")
        // "/" does nothing while a photo is open (the box is behind it).
        try browser.press("/")
        #expect(try browser.string("document.activeElement.id") != "q")
        try browser.press("Escape")
        try browser.wait(for: "document.getElementById('viewer').hidden && location.search === ''")
        #expect(try browser.string(Self.focusedTile) == String(timeline[0]), "focus back on the tile")
        // Arrows walk the grid; Enter opens the one chosen.
        try browser.press("ArrowRight")
        try browser.press("ArrowRight")
        #expect(try browser.string(Self.focusedTile) == String(timeline[2]))
        try browser.press("Enter")
        try browser.wait(for: "location.search === '?photo=\(timeline[2])'")
        try browser.press("Escape")
        try browser.wait(for: "document.getElementById('viewer').hidden")

        // "/" types a search; Enter runs it and puts it in the address.
        try browser.press("/")
        #expect(try browser.string("document.activeElement.id") == "q")
        try browser.type("a photo")
        try browser.press("Enter")
        try browser.wait(for: "location.search === '?q=a+photo'")
        let found = try page(gallery, "/api/search?q=a%20photo")
        let good = found.results.prefix { !$0.weaker }.map(\.id)
        #expect(try waitForTiles(browser, good) == good)
        // The fold's button by keyboard too.
        try #require(good.count < found.results.count, "the fixture gives weaker matches")
        for _ in 0..<40 where try browser.string("document.activeElement.id") != "unfold" { try browser.press("Tab") }
        try browser.press("Enter")
        #expect(try waitForTiles(browser, found.results.map(\.id)) == found.results.map(\.id))
        #expect(try browser.string(Self.focusedTile) == String(found.results[good.count].id), "focus on the first weaker match")
        #expect(browser.pageErrors.isEmpty, "\(browser.pageErrors)")
    }

    @Test("the viewer in the browser's history: Back closes it, previous/next buttons, a click beside the photo closes it, download, a human date and the place")
    func viewerHistory() throws {
        let gallery = try Gallery(photos: Self.places)
        let browser = try Browser()
        let timeline = try page(gallery, "/api/timeline").results
        let shown = timeline.map(\.id)
        try browser.open("http://127.0.0.1:\(gallery.port)/")
        #expect(try waitForTiles(browser, shown) == shown)
        let lisbon = try #require(timeline.firstIndex { $0.path.hasSuffix("/lisbon.jpg") })

        try browser.click("#grid li[data-id='\(shown[lisbon])']")
        try browser.wait(for: "location.search === '?photo=\(shown[lisbon])'")
        try browser.wait(for: "document.querySelectorAll('#details dd').length >= 6")
        let details = try browser.strings("[...document.querySelectorAll('#details dd')].map(dd => dd.textContent)")
        #expect(details[1] == "Wed 12 Jun 2019, 10:15", "\(details)")
        #expect(details.contains { $0.hasPrefix("Lisbon") && $0.contains("Portugal") }, "\(details)")
        #expect(try browser.string("document.getElementById('download').getAttribute('download')") == "lisbon.jpg")
        #expect(try browser.string("document.getElementById('download').getAttribute('href')") == "/api/photos/\(shown[lisbon])/file")

        // Back closes it, and the page under it is as it was.
        try browser.back()
        try browser.wait(for: "document.getElementById('viewer').hidden && location.search === ''")
        #expect(try ids(browser) == shown)

        // The buttons move; they replace the entry, so one Back still closes.
        try browser.click("#grid li[data-id='\(shown[0])']")
        try browser.wait(for: "location.search === '?photo=\(shown[0])'")
        #expect(try browser.evaluate("document.getElementById('previous').disabled") as? Bool == true)
        try browser.click("#next")
        try browser.wait(for: "location.search === '?photo=\(shown[1])'")
        try browser.click("#previous")
        try browser.wait(for: "location.search === '?photo=\(shown[0])'")
        try browser.back()
        try browser.wait(for: "document.getElementById('viewer').hidden && location.search === ''")

        // A click beside the photo (the dark backdrop) closes it.
        try browser.click("#grid li[data-id='\(shown[1])']")
        try browser.wait(for: "location.search === '?photo=\(shown[1])'")
        try browser.click(x: 10, y: 790)   // (the window is 1280 × 800)
        try browser.wait(for: "document.getElementById('viewer').hidden && location.search === ''")
        #expect(browser.pageErrors.isEmpty, "\(browser.pageErrors)")
    }

    @Test("Similar photos keep the filters on screen, get an address of their own, and Back returns through the photo to the filtered page")
    func similarWithFiltersAndBack() throws {
        let gallery = try Gallery(photos: Self.places)
        let browser = try Browser()
        let portugal = try page(gallery, "/api/timeline?place=Portugal").results.map(\.id)
        #expect(portugal.count == 2)
        try browser.open("http://127.0.0.1:\(gallery.port)/?place=Portugal")
        #expect(try waitForTiles(browser, portugal) == portugal)
        #expect(try browser.string("document.getElementById('count').textContent") == "2 photos match the filters, newest first")

        try browser.click("#grid li[data-id='\(portugal[0])']")
        try browser.wait(for: "location.search === '?place=Portugal&photo=\(portugal[0])'")
        try browser.wait(for: "document.querySelectorAll('#details dd').length >= 6 && document.getElementById('large').complete")   // (both move what is below)
        try browser.click("#similar")
        try browser.wait(for: "location.search === '?place=Portugal&similar=\(portugal[0])'")
        let like = try page(gallery, "/api/similar/\(portugal[0])?place=Portugal").results.map(\.id)
        #expect(like == [portugal[1]])
        #expect(try waitForTiles(browser, like) == like)
        #expect(try browser.string("document.getElementById('q').value").isEmpty)
        #expect(try browser.string("document.getElementById('place').value") == "Portugal")

        // A filter changed keeps the photos-like-this view.
        try browser.click("#place")
        try browser.evaluate("document.getElementById('place').select()")
        try browser.press("Backspace")
        try browser.press("Enter")
        try browser.wait(for: "location.search === '?similar=\(portugal[0])'")
        let unfiltered = try page(gallery, "/api/similar/\(portugal[0])").results.map(\.id)
        #expect(try waitForTiles(browser, unfiltered) == unfiltered)

        try browser.back()
        try browser.wait(for: "location.search === '?place=Portugal&similar=\(portugal[0])'")
        #expect(try waitForTiles(browser, like) == like)
        try browser.back()
        try browser.wait(for: "location.search === '?place=Portugal&photo=\(portugal[0])' && !document.getElementById('viewer').hidden")
        try browser.back()
        try browser.wait(for: "location.search === '?place=Portugal' && document.getElementById('viewer').hidden")
        #expect(try waitForTiles(browser, portugal) == portugal)
        #expect(browser.pageErrors.isEmpty, "\(browser.pageErrors)")
    }

    @Test("Back from similar photos to a timeline scrolled through pages finds it as it was left: every page, the place it was read at, no request again; a link to a photo pages down has previous and next")
    func backKeepsThePlace() throws {
        let gallery = try Gallery(copies: 110)
        let browser = try Browser(width: 1280, height: 700)
        let all = try page(gallery, "/api/timeline?top=200").results.map(\.id)
        try #require(all.count == 116)
        try browser.open("http://127.0.0.1:\(gallery.port)/")
        try browser.evaluate("performance.setResourceTimingBufferSize(100000)")   // (250 by default: counts would stop)
        _ = try? browser.wait(for: "\(Self.tiles).length >= 50")
        let requests = "performance.getEntriesByType('resource').filter(entry => entry.name.includes('/api/timeline')).length"
        // Left at its top: Back finds its one page, and asks for no other.
        try browser.click("#grid li[data-id='\(all[3])']")
        try browser.wait(for: "document.querySelectorAll('#details dd').length >= 6 && document.getElementById('large').complete")   // (both move the buttons below)
        try browser.click("#similar")
        try browser.wait(for: "location.search === '?similar=\(all[3])' && document.getElementById('count').textContent.endsWith('most alike first')")
        try browser.back()
        try browser.back()
        try browser.wait(for: "location.search === '' && document.getElementById('viewer').hidden")
        // (Three answers of the test's own: a page asked for meanwhile would have come.)
        try browser.evaluate("(async () => { for (let i = 0; i < 3; i++) await (await fetch('/api/timeline?top=1')).json(); return true; })()")
        #expect(try ids(browser) == Array(all.prefix(50)))
        #expect(try browser.number(requests) == 1 + 3, "one page asked for, once")
        // Down to the end, a page at a time, as a reader scrolls.
        try browser.wait(for: "(window.scrollTo(0, document.body.scrollHeight), \(Self.tiles).length === \(all.count))")
        #expect(try ids(browser) == all)
        let timelinePages = try browser.number(requests)
        #expect(timelinePages >= 3 + 3, "116 photos take three pages of 50")

        let opened = all[100]
        try browser.click("#grid li[data-id='\(opened)']")
        try browser.wait(for: "location.search === '?photo=\(opened)' && !document.getElementById('viewer').hidden")
        let scrolled = try browser.number("Math.round(window.scrollY)")
        #expect(scrolled > 1000, "the 101st photo is pages down")
        try browser.wait(for: "document.querySelectorAll('#details dd').length >= 6 && document.getElementById('large').complete")   // (both move what is below)
        try browser.click("#similar")
        try browser.wait(for: "location.search === '?similar=\(opened)'")
        // (The copies tie with the photo opened, in an order of their own: the page's own first page is compared.)
        try browser.wait(for: "\(Self.tiles).length === 50 && document.getElementById('count').textContent === '50+ of 115 photos, most alike first'")
        let like = try ids(browser)
        #expect(like.count == 50, "read from the top, not scrolled to the end of its first page")
        #expect(try browser.number("Math.round(window.scrollY)") == 0)

        try browser.back()
        try browser.wait(for: "location.search === '?photo=\(opened)' && !document.getElementById('viewer').hidden")
        #expect(try ids(browser) == all, "every page is back at once")
        try browser.back()
        try browser.wait(for: "location.search === '' && document.getElementById('viewer').hidden")
        #expect(try ids(browser) == all)
        #expect(try browser.number("Math.round(window.scrollY)") == scrolled, "where it was read")
        #expect(try browser.number(requests) == timelinePages, "no page asked for again")
        #expect(try browser.string(Self.focusedTile) == "\(opened)", "the photo opened is the current tile")
        #expect(try browser.string("document.getElementById('count').textContent") == "116 photos, newest first")
        // Forward: similar photos as they were too.
        try browser.send("Page.navigateToHistoryEntry", ["entryId": try #require(
            ((try browser.send("Page.getNavigationHistory")["entries"] as? [[String: Any]])?.last?["id"]) as? Int)])
        try browser.wait(for: "location.search === '?similar=\(opened)'")
        #expect(try waitForTiles(browser, like) == like)
        #expect(browser.pageErrors.isEmpty, "\(browser.pageErrors)")

        // A shared link to a photo three pages down: previous and next lead
        // on from it, and closing shows its tile, in view.
        try browser.open("http://127.0.0.1:\(gallery.port)/?photo=\(all[100])")
        try browser.wait(for: "!document.getElementById('viewer').hidden && !document.getElementById('previous').disabled && !document.getElementById('next').disabled")
        try browser.press("ArrowRight")
        try browser.wait(for: "location.search === '?photo=\(all[101])'")
        try browser.press("Escape")
        try browser.wait(for: "document.getElementById('viewer').hidden && location.search === ''")
        #expect(try browser.string(Self.focusedTile) == "\(all[101])")
        #expect(try browser.evaluate("""
            (() => { const box = document.activeElement.getBoundingClientRect(); return box.top >= 0 && box.bottom <= window.innerHeight + 1; })()
            """) as? Bool == true, "the tile is in view")
        #expect(browser.pageErrors.isEmpty, "\(browser.pageErrors)")
    }

    @Test("a photo dropped while the server is busy (503, Retry-After) is sent again when it says, and its results shown, not an error")
    func busyIsRetried() throws {
        let gallery = try Gallery()
        let browser = try Browser()
        try browser.open("http://127.0.0.1:\(gallery.port)/")
        _ = try? browser.wait(for: "\(Self.tiles).length === 6")
        let photo = Array(try Data(contentsOf: URL(fileURLWithPath: CommandRunner.fixture("photos/chelsea.png"))))
        let expected = try JSONDecoder().decode(Page.self, from: Data(try gallery.post("/api/search/image", body: photo).body)).results.map(\.id)

        // Both upload turns held by uploads that send a few bytes, then wait.
        let held = try (0..<2).map { _ in
            try LoopbackConnection(port: gallery.port, sending: Array("POST /api/search/image HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20000000\r\n\r\nabc".utf8))
        }
        struct Busy: Decodable { struct Counts: Decodable { let uploads: Int }; let busy: Counts? }
        while try JSONDecoder().decode(Busy.self, from: Data(try gallery.get("/api/status").body)).busy?.uploads != 2 {}
        try browser.evaluate("performance.setResourceTimingBufferSize(100000)")
        // A photo dropped on the page (not awaited: it waits for the server).
        try browser.evaluate("""
            fetch('/api/photos/\(expected[0])/file').then(answer => answer.blob()).then(blob => {
              const dropped = new DataTransfer();
              dropped.items.add(new File([blob], 'cat.png', {type: 'image/png'}));
              document.dispatchEvent(new DragEvent('drop', {dataTransfer: dropped, bubbles: true, cancelable: true}));
            }), true
            """)
        try browser.wait(for: "performance.getEntriesByType('resource').some(entry => entry.name.includes('/api/search/image') && entry.responseStatus === 503)")
        #expect(try browser.string("document.getElementById('message').textContent") == "Searching by cat.png…")
        held.forEach { $0.close() }
        #expect(try waitForTiles(browser, expected) == expected)
        #expect(try browser.string("document.getElementById('message').textContent").hasPrefix("Photos like cat.png"))
        // A photo of them opened and closed (Back): the dropped photo's results, not the timeline at the same address.
        try browser.click("#grid li[data-id='\(expected[1])']")
        try browser.wait(for: "!document.getElementById('viewer').hidden")
        try browser.press("Escape")
        try browser.wait(for: "document.getElementById('viewer').hidden && location.search === ''")
        #expect(try ids(browser) == expected)
        #expect(browser.pageErrors.isEmpty, "\(browser.pageErrors)")
    }

    @Test("an open page offers what a run in another process indexed since it was loaded, and shows it when asked")
    func offersNewPhotos() throws {
        let gallery = try Gallery()
        let browser = try Browser()
        let before = try page(gallery, "/api/timeline").results.map(\.id)
        try browser.open("http://127.0.0.1:\(gallery.port)/")
        #expect(try waitForTiles(browser, before) == before)
        #expect(try browser.number("document.querySelectorAll('#fresh').length") == 0)

        // What the page compares: the index's generation, which a run that
        // changes nothing leaves as it is, and one that adds a photo does not.
        struct Generation: Decodable { let generation: String }
        func generation() throws -> String { try JSONDecoder().decode(Generation.self, from: Data(try gallery.get("/api/status").body)).generation }
        let first = try generation()
        func index() throws {
            let indexed = try CommandRunner.run(["index", gallery.photos, "--db", gallery.database, "--model", ServeTests.model])
            try #require(indexed.status == 0, "\(indexed.standardError)")
        }
        try index()
        #expect(try generation() == first, "a run that changed nothing")
        try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/chelsea-64.png"), toPath: gallery.photos + "/new.png")
        try index()
        #expect(try generation() != first)
        let after = try page(gallery, "/api/timeline").results.map(\.id)
        #expect(after.count == before.count + 1)
        // (The page looks at the status every 5 s.)
        try browser.wait(for: "document.getElementById('fresh')")
        #expect(try ids(browser) == before, "offered, not forced on a reader")
        try browser.click("#fresh")
        #expect(try waitForTiles(browser, after) == after)
        #expect(try browser.number("document.querySelectorAll('#changed').length") == 0, "said no more once shown")
        #expect(browser.pageErrors.isEmpty, "\(browser.pageErrors)")
    }

    @Test("a phone (390 × 844, touch): three columns, a header that scrolls away, a full-screen viewer, swipes move between photos")
    func phone() throws {
        let gallery = try Gallery(copies: 30)
        let browser = try Browser(width: 390, height: 844, phone: true)
        let timeline = try page(gallery, "/api/timeline").results.map(\.id)
        try browser.open("http://127.0.0.1:\(gallery.port)/")
        #expect(try waitForTiles(browser, timeline) == timeline)
        #expect(try browser.number("getComputedStyle(document.getElementById('grid')).gridTemplateColumns.split(' ').length") == 3)
        #expect(try browser.number("Math.round(document.querySelector('#grid li[data-id]').getBoundingClientRect().width)") < 130)
        try browser.evaluate("window.scrollTo(0, 600)")
        try browser.wait(for: "window.scrollY > 0")
        #expect(try browser.number("Math.round(document.querySelector('header').getBoundingClientRect().bottom)") <= 0, "the header scrolled away")

        try browser.tap("#grid li[data-id='\(timeline[1])']")
        try browser.wait(for: "location.search === '?photo=\(timeline[1])'")
        #expect(try browser.strings("(() => { const box = document.getElementById('viewer').getBoundingClientRect(); return [box.left, box.top, box.width, box.height].map(String); })()")
                == ["0", "0", "390", "844"])
        // Nothing of the grid shows through.
        for (x, y) in [(20, 20), (195, 400), (370, 830)] {
            #expect(try browser.string("document.getElementById('viewer').contains(document.elementFromPoint(\(x), \(y))) ? 'viewer' : 'page'") == "viewer")
        }
        try browser.swipe(from: (320, 400), to: (60, 400))
        try browser.wait(for: "location.search === '?photo=\(timeline[2])'")
        try browser.swipe(from: (60, 400), to: (320, 400))
        try browser.wait(for: "location.search === '?photo=\(timeline[1])'")
        try browser.back()
        try browser.wait(for: "document.getElementById('viewer').hidden")
        #expect(browser.pageErrors.isEmpty, "\(browser.pageErrors)")
    }

    @Test("the date filters offer the months photos were taken in; a stopped server is said in words, with a way to try again")
    func datesAndStoppedServer() throws {
        let gallery = try Gallery(photos: Self.places)
        let browser = try Browser()
        struct Months: Decodable { struct Month: Decodable { let month: String; let photos: Int }; let months: [Month] }
        let months = try JSONDecoder().decode(Months.self, from: Data(try gallery.get("/api/months").body)).months
        #expect(months.map(\.month) == months.map(\.month).sorted(by: >) && months.reduce(0) { $0 + $1.photos } == 9)
        try browser.open("http://127.0.0.1:\(gallery.port)/")
        try browser.wait(for: "document.querySelectorAll('#dates option').length")
        let offered = try browser.strings("[...document.querySelectorAll('#dates option')].map(option => option.value)")
        #expect(Set(offered) == Set(months.map(\.month) + months.map { String($0.month.prefix(4)) }), "\(offered)")
        #expect(try browser.string("document.querySelector('#dates option[value=\"2019-06\"]').label") == "June 2019 · 2 photos")
        #expect(try browser.string("document.getElementById('after').getAttribute('list')") == "dates")

        // Choosing one filters at once.
        try browser.evaluate("document.getElementById('after').value = '2019-06'; document.getElementById('after').dispatchEvent(new Event('change'))")
        try browser.wait(for: "location.search === '?after=2019-06'")
        let after = try page(gallery, "/api/timeline?after=2019-06").results.map(\.id)
        #expect(try waitForTiles(browser, after) == after)

        // A mistake in the request is said with no "Try again": it would fail the same way.
        try browser.evaluate("document.getElementById('after').value = '2024-02-30'; document.getElementById('after').dispatchEvent(new Event('change'))")
        try browser.wait(for: "document.getElementById('message').className === 'error'")
        #expect(try browser.string("document.getElementById('message').textContent").hasPrefix("invalid date"))
        #expect(try browser.string("String(document.getElementById('retry'))") == "null")

        gallery.server.signal(SIGKILL)
        _ = gallery.server.finish()
        try browser.click("#q")
        try browser.type("a rocket")
        try browser.press("Enter")
        try browser.wait(for: "document.getElementById('retry')")
        #expect(try browser.string("document.getElementById('message').textContent")
                == "The photosearch server did not answer: it may have stopped, or this computer is offline. Try again")
        #expect(try browser.string("document.getElementById('message').className") == "error")
        try browser.click("#retry")
        try browser.wait(for: "document.getElementById('retry')")
        #expect(try browser.string("document.getElementById('message').textContent").hasPrefix("The photosearch server did not answer"))
    }
}
