import NIOCore
import NIOHTTPTypes
import Synchronization

/// Keeps room for new clients when every connection is taken, as nginx
/// does when it runs out: past `spare` connections short of the limit, each
/// new one closes the connection that has waited longest on its client — a
/// keep-alive connection between requests, or one whose request head has
/// not all arrived. Without it a client that held every connection the
/// server may open (1 024 of them, each sending a request every 20 s, under
/// the idle timeout) locked every other client out for as long as it
/// wished, with or without the token (a 401 keeps its connection).
///
/// Connections busy with a request (read, run or answered) are never
/// closed this way; past the limit itself the server stops accepting
/// (`MaximumAvailableConnections`), as before.
final class ConnectionDrain: Sendable {
    /// Connections open past which each new one closes the longest waiting.
    let threshold: Int

    private struct State {
        var open = 0
        /// The connections waiting on their clients, by when they began to.
        var waiting: [ObjectIdentifier: (channel: any Channel, since: UInt64)] = [:]
        var clock: UInt64 = 0
    }

    private let state = Mutex(State())

    /// `limit`: the connections the server may hold at once.
    init(limit: Int) {
        threshold = max(1, limit - min(64, max(1, limit / 8)))
    }

    /// The handler each connection's pipeline gets.
    func handler() -> Watch { Watch(drain: self) }

    fileprivate func opened(_ channel: any Channel) {
        let closing: [any Channel] = state.withLock { state in
            state.open += 1
            state.clock += 1
            state.waiting[ObjectIdentifier(channel)] = (channel, state.clock)
            guard state.open > threshold else { return [] }
            // The longest waiting, never the one just opened.
            let excess = state.open - threshold
            let oldest = state.waiting.values.filter { $0.channel !== channel }.sorted { $0.since < $1.since }.prefix(excess)
            for entry in oldest { state.waiting[ObjectIdentifier(entry.channel)] = nil }
            return oldest.map(\.channel)
        }
        for channel in closing { channel.close(promise: nil) }
    }

    fileprivate func busy(_ channel: any Channel) {
        _ = state.withLock { $0.waiting.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    fileprivate func waiting(_ channel: any Channel) {
        state.withLock { state in
            state.clock += 1
            state.waiting[ObjectIdentifier(channel)] = (channel, state.clock)
        }
    }

    fileprivate func closed(_ channel: any Channel) {
        state.withLock { state in
            state.open -= 1
            state.waiting[ObjectIdentifier(channel)] = nil
        }
    }

    /// Follows one connection: waiting from its start and after each answer
    /// has been written, busy from each request head on.
    final class Watch: ChannelDuplexHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPRequestPart
        typealias InboundOut = HTTPRequestPart
        typealias OutboundIn = HTTPResponsePart
        typealias OutboundOut = HTTPResponsePart

        private let drain: ConnectionDrain
        private var counted = false

        init(drain: ConnectionDrain) {
            self.drain = drain
        }

        func handlerAdded(context: ChannelHandlerContext) {
            if context.channel.isActive { open(context) }
        }

        func channelActive(context: ChannelHandlerContext) {
            open(context)
            context.fireChannelActive()
        }

        private func open(_ context: ChannelHandlerContext) {
            guard !counted else { return }
            counted = true
            drain.opened(context.channel)
        }

        func channelInactive(context: ChannelHandlerContext) {
            if counted {
                counted = false
                drain.closed(context.channel)
            }
            context.fireChannelInactive()
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            if counted {
                counted = false
                drain.closed(context.channel)
            }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head = unwrapInboundIn(data) { drain.busy(context.channel) }
            context.fireChannelRead(data)
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            let ended: Bool
            if case .end = unwrapOutboundIn(data) { ended = true } else { ended = false }
            if ended {
                // Waiting again once the answer has left.
                let channel = context.channel, drain = self.drain
                let written = promise ?? context.eventLoop.makePromise()
                written.futureResult.whenComplete { _ in if channel.isActive { drain.waiting(channel) } }
                context.write(data, promise: written)
            } else {
                context.write(data, promise: promise)
            }
        }
    }
}
