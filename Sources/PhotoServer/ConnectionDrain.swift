import NIOCore
import NIOHTTPTypes
import Synchronization

/// Keeps room for new clients when every connection is taken, as nginx
/// does when it runs out: past `spare` connections short of the limit, each
/// new one closes the connection that has waited longest on its client — a
/// keep-alive connection between requests, one whose request head has not
/// all arrived, or one whose answer the client has stopped reading (its
/// socket's buffer full). Without it a client that held every connection the
/// server may open (1 024 of them, each sending a request every 20 s, under
/// the idle timeout) locked every other client out for as long as it
/// wished, with or without the token (a 401 keeps its connection).
///
/// Connections busy with a request (read, run, or answered as fast as the
/// client reads) are never closed this way; past the limit itself the server stops accepting
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
        let closing: (any Channel)? = state.withLock { state in
            state.open += 1
            state.clock += 1
            state.waiting[ObjectIdentifier(channel)] = (channel, state.clock)
            guard state.open > threshold else { return nil }
            // One out for one in: the longest waiting, never the one just
            // opened. (Closing more, as many as `open` is past the threshold
            // while earlier closes were still under way, closed clients that
            // had just connected.)
            guard let oldest = state.waiting.values.filter({ $0.channel !== channel }).min(by: { $0.since < $1.since }) else { return nil }
            state.waiting[ObjectIdentifier(oldest.channel)] = nil
            return oldest.channel
        }
        closing?.close(promise: nil)
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
