#if canImport(Glibc)
import Glibc
#endif

/// Where other devices can reach a server: `0.0.0.0` and `::` are what a
/// server listens on, not addresses a phone's browser can open.
public enum ServerAddresses {
    /// Whether `host` means every interface of this computer.
    public static func isWildcard(_ host: String) -> Bool {
        ["0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0"].contains(host)
    }

    /// The hosts to print for a server listening on `host`: for a wildcard,
    /// the addresses of this computer's interfaces that are up (IPv4 for
    /// 0.0.0.0; IPv6, and IPv4 too unless the system binds IPv6 sockets to
    /// IPv6 alone, for ::), without loopback and link-local IPv6 ones (a
    /// browser needs an interface name with those), in interface order, then
    /// the loopback address (`isLoopback`); otherwise `host` itself. IPv6
    /// addresses come bracketed, as a URL writes them.
    public static func reachable(listeningOn host: String) -> [(host: String, isLoopback: Bool)] {
        guard isWildcard(host) else {
            let shown = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
            return [(shown, GalleryServer.Configuration(host: host).isLoopback)]
        }
        let ipv6 = host != "0.0.0.0"
        let ipv4 = !ipv6 || !bindsIPv6Only()
        var found: [String] = []
        var list: UnsafeMutablePointer<ifaddrs>?
        if getifaddrs(&list) == 0 {
            defer { freeifaddrs(list) }
            var entry = list
            while let current = entry?.pointee {
                entry = current.ifa_next
                let flags = Int32(bitPattern: current.ifa_flags)
                guard flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0, let address = current.ifa_addr else { continue }
                let family = Int32(address.pointee.sa_family)
                var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
                if family == AF_INET, ipv4 {
                    var value = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    guard inet_ntop(AF_INET, &value, &text, socklen_t(text.count)) != nil else { continue }
                    found.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
                } else if family == AF_INET6, ipv6 {
                    var value = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    let bytes = withUnsafeBytes(of: value) { Array($0) }
                    // fe80::/10, link-local: needs an interface (zone) to be reached.
                    guard !(bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80) else { continue }
                    guard inet_ntop(AF_INET6, &value, &text, socklen_t(text.count)) != nil else { continue }
                    found.append("[" + String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "]")
                }
            }
        }
        var seen = Set<String>()
        let network = found.filter { seen.insert($0).inserted }.map { (host: $0, isLoopback: false) }
        return network + [(ipv4 ? "127.0.0.1" : "[::1]", true)]
    }

    /// net.ipv6.bindv6only: 1 when a socket listening on :: takes no IPv4
    /// connections (Linux's default is 0).
    static func bindsIPv6Only() -> Bool {
        guard let file = fopen("/proc/sys/net/ipv6/bindv6only", "r") else { return false }
        defer { fclose(file) }
        return fgetc(file) == Int32(UInt8(ascii: "1"))
    }
}
