import NIOCore
import NIOHTTPTypes
import Synchronization

/// Keeps room for new clients when every connection is taken, as nginx
/// does when it runs out: past `threshold` connections, those that have
/// waited longest on their clients are closed — keep-alive connections
/// between requests, ones whose request heads have not all arrived, ones
/// whose answers their clients have stopped reading — one for each new
/// connection, and every half second while the count stays past it.
/// Without it a client that held every connection the server may open
/// (1 024 of them, each sending a request every 20 s, under the idle
/// timeout) locked every other client out for as long as it wished, with or
/// without the token (a 401 keeps its connection).
///
/// A connection is closed this way only after waiting `grace` (a new
/// client's head is on its way), and never while busy with a request (read,
/// run, or answered as fast as its client reads). At the limit itself the
/// server stops accepting (`MaximumAvailableConnections`), as before.
final class ConnectionDrain: Sendable {
    /// Connections open past which the longest waiting are closed.
    let threshold: Int
    /// How long a connection waits before it may be closed.
    static let grace = TimeAmount.seconds(2)
    static let sweepInterval = TimeAmount.milliseconds(500)

    private struct State {
        var open = 0
        /// The connections waiting on their clients, by when they began to.
        var waiting: [ObjectIdentifier: (channel: any Channel, since: NIODeadline)] = [:]
        /// Chosen to be closed, not closed yet.
        var closing = Set<ObjectIdentifier>()
        /// Whether the sweep is scheduled (only while past the threshold).
        var sweeping = false

        func excess(past threshold: Int) -> Int { open - closing.count - threshold }

        /// The longest-waiting connections past their grace, as many as
        /// the open ones (less those already closing) exceed `threshold`
        /// by, taken out of `waiting` and marked closing.
        mutating func choose(past threshold: Int, now: NIODeadline) -> [any Channel] {
            let excess = excess(past: threshold)
            guard excess > 0 else { return [] }
            let eligible = waiting.values.filter { $0.since + ConnectionDrain.grace <= now }
            let chosen = excess == 1 ? eligible.min { $0.since < $1.since }.map { [$0] } ?? []
                : Array(eligible.sorted { $0.since < $1.since }.prefix(excess))
            for entry in chosen {
                waiting[ObjectIdentifier(entry.channel)] = nil
                closing.insert(ObjectIdentifier(entry.channel))
            }
            return chosen.map(\.channel)
        }
    }

    private let state = Mutex(State())

    /// `limit`: the connections the server may hold at once.
    init(limit: Int) {
        threshold = max(1, limit - min(64, max(1, limit / 8)))
    }

    /// The handler each connection's pipeline gets.
    func handler() -> Watch { Watch(drain: self) }

    fileprivate func opened(_ channel: any Channel) {
        let now = NIODeadline.now()
        let (closing, startSweep): ([any Channel], Bool) = state.withLock { state in
            state.open += 1
            state.waiting[ObjectIdentifier(channel)] = (channel, now)
            let closing = state.choose(past: threshold, now: now)
            let start = !state.sweeping && state.excess(past: threshold) > 0
            if start { state.sweeping = true }
            return (closing, start)
        }
        for channel in closing { channel.close(promise: nil) }
        if startSweep {
            // Past the threshold with nothing to close yet (every waiting
            // one in its grace), the count stays up with no new connection
            // to act on: the sweep does, until the count is down.
            _ = channel.eventLoop.scheduleRepeatedTask(initialDelay: Self.sweepInterval, delay: Self.sweepInterval) { [self] task in
                let closing: [any Channel] = state.withLock { state in
                    guard state.excess(past: threshold) > 0 else {
                        state.sweeping = false
                        task.cancel()
                        return []
                    }
                    return state.choose(past: threshold, now: .now())
                }
                for channel in closing { channel.close(promise: nil) }
            }
        }
    }

    fileprivate func busy(_ channel: any Channel) {
        _ = state.withLock { $0.waiting.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    fileprivate func waiting(_ channel: any Channel) {
        let now = NIODeadline.now()
        state.withLock { state in
            guard !state.closing.contains(ObjectIdentifier(channel)) else { return }
            state.waiting[ObjectIdentifier(channel)] = (channel, now)
        }
    }

    fileprivate func closed(_ channel: any Channel) {
        state.withLock { state in
            state.open -= 1
            state.waiting[ObjectIdentifier(channel)] = nil
            state.closing.remove(ObjectIdentifier(channel))
        }
    }

    /// Follows one connection: waiting from its start and whenever every
    /// request it has sent has been answered, busy from a request's head
    /// until its answer's end has been written — but waiting again while an
    /// answer cannot be written for want of the client reading it.
    final class Watch: ChannelDuplexHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPRequestPart
        typealias InboundOut = HTTPRequestPart
        typealias OutboundIn = HTTPResponsePart
        typealias OutboundOut = HTTPResponsePart

        private let drain: ConnectionDrain
        private var counted = false
        /// Request heads read whose answers' ends are not written yet
        /// (several when a client pipelines).
        private var pending = 0
        private var isWaiting = true

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

        private func close(_ context: ChannelHandlerContext) {
            guard counted else { return }
            counted = false
            drain.closed(context.channel)
        }

        func channelInactive(context: ChannelHandlerContext) {
            close(context)
            context.fireChannelInactive()
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            close(context)
        }

        /// Tells the drain when the connection starts or stops waiting on its client.
        private func update(_ channel: any Channel) {
            guard counted else { return }
            let waiting = pending == 0 || !channel.isWritable
            guard waiting != isWaiting else { return }
            isWaiting = waiting
            if waiting { drain.waiting(channel) } else { drain.busy(channel) }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head = unwrapInboundIn(data) {
                pending += 1
                update(context.channel)
            }
            context.fireChannelRead(data)
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            update(context.channel)
            context.fireChannelWritabilityChanged()
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            guard case .end = unwrapOutboundIn(data) else {
                context.write(data, promise: promise)
                return
            }
            // One request fewer once its answer has left.
            let channel = context.channel, watch = NIOLoopBound(self, eventLoop: context.eventLoop)
            let written = promise ?? context.eventLoop.makePromise()
            written.futureResult.whenComplete { _ in
                watch.value.pending = max(0, watch.value.pending - 1)
                watch.value.update(channel)
            }
            context.write(data, promise: written)
        }
    }
}
