import Foundation

/// Headless Chromium driven over the DevTools protocol, as a person uses a
/// page: real key presses, clicks, touches, scrolling and the Back button.
/// The protocol runs over a pair of pipes (`--remote-debugging-pipe`:
/// commands in on the browser's descriptor 3, answers and events out on 4,
/// each message JSON ended by a NUL), so no port and no WebSocket.
///
/// Nothing here sleeps: `wait(for:)` evaluates a condition in the page until
/// it holds, with a deadline, and every answer is read with a deadline
/// (`poll`), so a browser that hangs fails the test instead of stopping it.
final class Browser {
    static let executable = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].first { FileManager.default.isExecutableFile(atPath: $0) }
        ?? "/usr/bin/chromium"

    struct Failure: Error, CustomStringConvertible { let description: String }

    private let pid: pid_t
    private let commands: Int32
    private let answers: Int32
    private var buffer: [UInt8] = []
    private var lastID = 0
    private var session: String?
    private let profile: URL
    /// Errors the page threw or logged (Runtime.exceptionThrown,
    /// console.error): a test checks there are none.
    private(set) var pageErrors: [String] = []

    /// A browser with one empty tab of `width` × `height` CSS pixels; a
    /// `phone` one also has touch and a phone's viewport rules.
    init(width: Int = 1280, height: Int = 800, phone: Bool = false) throws {
        profile = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-chromium-\(UUID().uuidString)")
        var toBrowser: [Int32] = [0, 0], fromBrowser: [Int32] = [0, 0]
        guard pipe(&toBrowser) == 0, pipe(&fromBrowser) == 0 else { throw Failure(description: "pipe failed") }
        for fd in toBrowser + fromBrowser { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // Above 4, so that putting one on 3 cannot close the other.
        let (childIn, childOut) = (fcntl(toBrowser[0], F_DUPFD_CLOEXEC, 10), fcntl(fromBrowser[1], F_DUPFD_CLOEXEC, 10))
        for fd in [toBrowser[0], fromBrowser[1]] { close(fd) }
        defer { close(childIn); close(childOut) }
        commands = toBrowser[1]
        answers = fromBrowser[0]
        signal(SIGPIPE, SIG_IGN)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, childIn, 3)
        posix_spawn_file_actions_adddup2(&actions, childOut, 4)
        let arguments = [Self.executable, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                         "--remote-debugging-pipe", "--window-size=\(width),\(height)", "--user-data-dir=" + profile.path]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, Self.executable, &actions, nil, argv, environ)
        guard spawned == 0 else {
            close(commands); close(answers)
            throw Failure(description: "cannot start \(Self.executable): \(String(cString: strerror(spawned)))")
        }
        self.pid = pid

        let target = try send("Target.createTarget", ["url": "about:blank"], inPage: false)["targetId"] as? String ?? ""
        session = try send("Target.attachToTarget", ["targetId": target, "flatten": true], inPage: false)["sessionId"] as? String
        try send("Page.enable")
        try send("Runtime.enable")
        // The viewport exactly `width` × `height` (a headless window keeps
        // some of its height for itself).
        try send("Emulation.setDeviceMetricsOverride", ["width": width, "height": height, "deviceScaleFactor": 1, "mobile": phone])
        if phone { try send("Emulation.setTouchEmulationEnabled", ["enabled": true, "maxTouchPoints": 5]) }
    }

    deinit {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        close(commands)
        close(answers)
        try? FileManager.default.removeItem(at: profile)
    }

    /// Sends one command (to the tab unless `inPage` is false) and returns
    /// its result; the events read meanwhile are kept for `pageErrors`.
    @discardableResult
    func send(_ method: String, _ parameters: [String: Any] = [:], inPage: Bool = true) throws -> [String: Any] {
        lastID += 1
        var message: [String: Any] = ["id": lastID, "method": method, "params": parameters]
        if inPage, let session { message["sessionId"] = session }
        var bytes = Array(try JSONSerialization.data(withJSONObject: message)) + [0]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(commands, $0.baseAddress, $0.count) }
            guard written > 0 else { throw Failure(description: "chromium stopped reading (\(method))") }
            bytes.removeFirst(written)
        }
        while true {
            let answer = try nextMessage(for: method)
            if let id = answer["id"] as? Int, id == lastID {
                if let error = answer["error"] as? [String: Any] { throw Failure(description: "\(method): \(error)") }
                return answer["result"] as? [String: Any] ?? [:]
            }
            note(answer)
        }
    }

    private func nextMessage(for method: String) throws -> [String: Any] {
        while true {
            if let end = buffer.firstIndex(of: 0) {
                let message = Array(buffer[..<end])
                buffer.removeSubrange(...end)
                return try JSONSerialization.jsonObject(with: Data(message)) as? [String: Any] ?? [:]
            }
            var ready = pollfd(fd: answers, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 60_000) == 1 else { throw Failure(description: "chromium did not answer \(method) within 60 s") }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let count = chunk.withUnsafeMutableBytes { read(answers, $0.baseAddress, $0.count) }
            guard count > 0 else { throw Failure(description: "chromium closed the pipe (\(method))") }
            buffer += chunk[..<count]
        }
    }

    private func note(_ event: [String: Any]) {
        let parameters = event["params"] as? [String: Any] ?? [:]
        switch event["method"] as? String {
        case "Runtime.exceptionThrown":
            let details = parameters["exceptionDetails"] as? [String: Any] ?? [:]
            pageErrors.append(((details["exception"] as? [String: Any])?["description"] as? String) ?? "\(details)")
        case "Runtime.consoleAPICalled" where parameters["type"] as? String == "error":
            pageErrors.append("\(parameters["args"] ?? "")")
        default:
            break
        }
    }

    /// The value of a JavaScript expression in the page (a promise is
    /// awaited); what it throws is thrown.
    @discardableResult
    func evaluate(_ expression: String) throws -> Any? {
        let result = try send("Runtime.evaluate", ["expression": expression, "awaitPromise": true, "returnByValue": true])
        if let exception = result["exceptionDetails"] as? [String: Any] {
            let description = (exception["exception"] as? [String: Any])?["description"] as? String
            throw Failure(description: description ?? "\(exception)")
        }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// Evaluates `condition` in the page, again as the page changes (every
    /// 10 ms of its clock, up to `seconds`), until it is truthy; returns
    /// that value.
    @discardableResult
    func wait(for condition: String, seconds: Int = 20, line: Int = #line) throws -> Any? {
        let quoted = String(decoding: try JSONSerialization.data(withJSONObject: [condition]), as: UTF8.self).dropFirst().dropLast()
        return try evaluate("""
            new Promise((resolve, reject) => {
              const start = performance.now();
              (function check() {
                let value;
                try { value = (\(condition)); } catch (error) { value = undefined; }
                if (value) resolve(value);
                else if (performance.now() - start > \(seconds * 1000)) reject(new Error('(line \(line)) still not true after \(seconds) s: ' + \(quoted) + ' (the page at ' + location.pathname + location.search + ')'));
                else setTimeout(check, 10);
              })();
            })
            """)
    }

    func string(_ expression: String) throws -> String { try evaluate(expression) as? String ?? "" }
    func number(_ expression: String) throws -> Int { (try evaluate(expression) as? NSNumber)?.intValue ?? -1 }
    func strings(_ expression: String) throws -> [String] { try evaluate(expression) as? [String] ?? [] }

    /// Loads `url` and waits until its document has loaded.
    func open(_ url: String) throws {
        try send("Page.navigate", ["url": url])
        try wait(for: "document.readyState === 'complete' && location.href !== 'about:blank'")
    }

    /// The page's address, from the path on.
    var address: String {
        get throws { try string("location.pathname + location.search") }
    }

    /// A key pressed and released, as a keyboard sends it: keys that type
    /// (Enter, "/", letters) with their text, the others (Tab, arrows,
    /// Escape) without.
    func press(_ key: String, shift: Bool = false) throws {
        let codes: [String: (code: String, keyCode: Int, text: String?)] = [
            "Enter": ("Enter", 13, "\r"), "Tab": ("Tab", 9, nil), "Escape": ("Escape", 27, nil),
            "ArrowLeft": ("ArrowLeft", 37, nil), "ArrowUp": ("ArrowUp", 38, nil), "ArrowRight": ("ArrowRight", 39, nil),
            "ArrowDown": ("ArrowDown", 40, nil), "/": ("Slash", 191, "/"), " ": ("Space", 32, " "), "Backspace": ("Backspace", 8, nil),
        ]
        guard let (code, keyCode, text) = codes[key] else { throw Failure(description: "no key \(key) in the test keyboard") }
        var down: [String: Any] = ["type": text == nil ? "rawKeyDown" : "keyDown", "key": key, "code": code,
                                   "windowsVirtualKeyCode": keyCode, "modifiers": shift ? 8 : 0]
        if let text { down["text"] = text; down["unmodifiedText"] = text }
        try send("Input.dispatchKeyEvent", down)
        try send("Input.dispatchKeyEvent", ["type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": keyCode, "modifiers": shift ? 8 : 0])
    }

    /// Text typed into whatever has focus (as an input method commits it).
    func type(_ text: String) throws {
        try send("Input.insertText", ["text": text])
    }

    /// The centre of the element `selector` selects, on screen (scrolled into view).
    func centre(of selector: String) throws -> (x: Double, y: Double) {
        let point = try evaluate("""
            (() => { const element = document.querySelector(\(Self.quoted(selector)));
                     if (!element) return null;
                     element.scrollIntoView({block: 'center'});
                     const box = element.getBoundingClientRect();
                     return [box.left + box.width / 2, box.top + box.height / 2]; })()
            """) as? [NSNumber]
        guard let point, point.count == 2 else { throw Failure(description: "nothing on the page matches \(selector)") }
        return (point[0].doubleValue, point[1].doubleValue)
    }

    /// A left click in the middle of `selector`'s element, or at a point.
    func click(_ selector: String) throws {
        let (x, y) = try centre(of: selector)
        try click(x: x, y: y)
    }

    func click(x: Double, y: Double) throws {
        try send("Input.dispatchMouseEvent", ["type": "mouseMoved", "x": x, "y": y])
        try send("Input.dispatchMouseEvent", ["type": "mousePressed", "x": x, "y": y, "button": "left", "clickCount": 1])
        try send("Input.dispatchMouseEvent", ["type": "mouseReleased", "x": x, "y": y, "button": "left", "clickCount": 1])
    }

    /// A finger's tap in the middle of `selector`'s element.
    func tap(_ selector: String) throws {
        let (x, y) = try centre(of: selector)
        try send("Input.dispatchTouchEvent", ["type": "touchStart", "touchPoints": [["x": x, "y": y]]])
        try send("Input.dispatchTouchEvent", ["type": "touchEnd", "touchPoints": []])
    }

    /// A finger drawn across the screen from one point to another.
    func swipe(from start: (x: Double, y: Double), to end: (x: Double, y: Double)) throws {
        try send("Input.dispatchTouchEvent", ["type": "touchStart", "touchPoints": [["x": start.x, "y": start.y]]])
        for step in 1...5 {
            let t = Double(step) / 5
            try send("Input.dispatchTouchEvent", ["type": "touchMove",
                                                  "touchPoints": [["x": start.x + (end.x - start.x) * t, "y": start.y + (end.y - start.y) * t]]])
        }
        try send("Input.dispatchTouchEvent", ["type": "touchEnd", "touchPoints": []])
    }

    /// The browser's Back button: the entry before the current one in the
    /// tab's history.
    func back() throws {
        let history = try send("Page.getNavigationHistory")
        guard let index = history["currentIndex"] as? Int, index > 0,
              let entries = history["entries"] as? [[String: Any]], let id = entries[index - 1]["id"] as? Int else {
            throw Failure(description: "there is no page to go back to")
        }
        try send("Page.navigateToHistoryEntry", ["entryId": id])
    }

    /// A PNG of what the tab shows.
    func screenshot() throws -> Data {
        guard let text = try send("Page.captureScreenshot", ["format": "png"])["data"] as? String, let png = Data(base64Encoded: text) else {
            throw Failure(description: "no screenshot")
        }
        return png
    }

    /// `text` as a JavaScript string literal.
    static func quoted(_ text: String) -> String {
        String(String(decoding: try! JSONSerialization.data(withJSONObject: [text]), as: UTF8.self).dropFirst().dropLast())
    }
}
