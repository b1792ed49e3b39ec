import KVEngine
import NIOCore

/// Where a connection stands between its reads, as one enum: each event is a transition that says what to do, so
/// impossible combinations (running while closing, parked while waiting for a reply) cannot be represented. The
/// handler performs the actions and holds no other state of its own (valkey-swift's channel handler does the same).
///
/// ```
///            bytes                      batch ends: readMore
///   ready ──────────► running ─────────────────────────────────► ready
///                       │  awaitReply                 park            close
///                       ├──────────► awaitingReply    ├──► parked     └──► closing ──► closed
///                       │   reply arrives: running     │   woken or timer: running
/// ```
/// While a reply is awaited or a request is parked, bytes that arrive only accumulate; they run in order once the
/// connection runs again.
struct ConnectionStateMachine {
    enum State: Equatable {
        /// Nothing runs; bytes are run as they arrive.
        case ready
        /// A batch is running.
        case running
        /// A command's reply is being computed off the event loop (SNAPSHOT, SAVE).
        case awaitingReply
        /// A request waits (CLIENT PAUSE); a timer or a wake-up runs it again.
        case parked
        /// The replies so far go out, then the connection closes; nothing more runs.
        case closing
        case closed
    }

    private(set) var state = State.ready
    /// Set by a graceful shutdown while a reply is awaited: close once it has been answered.
    private var closeWhenDone = false

    enum ReadAction: Equatable {
        /// Run the batch now.
        case run
        /// Keep the bytes; they run later.
        case accumulate
        /// Drop them: the connection is closing.
        case ignore
    }

    mutating func bytesArrived() -> ReadAction {
        switch state {
        case .ready:
            state = .running
            return .run
        case .awaitingReply, .parked:
            return .accumulate
        case .running:
            preconditionFailure("a read arrived while a batch was running")
        case .closing, .closed:
            return .ignore
        }
    }

    enum BatchAction {
        /// Send the replies at the end of the read and keep reading.
        case sendAndRead
        /// Send the replies now, then wait for this reply.
        case sendAndAwait(EventLoopFuture<DeferredReply>)
        /// Send the replies now; run again after this many milliseconds (nil: no timer), or on a wake-up.
        case sendAndPark(Int64?)
        /// Send the replies now and close.
        case sendAndClose
        /// Graceful shutdown: send the replies, close the output once they are written, and drain the input.
        case sendAndEndGracefully
    }

    mutating func batchFinished(_ next: BatchOutcome.Next) -> BatchAction {
        precondition(state == .running, "a batch finished in state \(state)")
        switch next {
        case .readMore:
            if closeWhenDone {
                state = .closing
                return .sendAndEndGracefully
            }
            state = .ready
            return .sendAndRead
        case .awaitReply(let future):
            state = .awaitingReply
            return .sendAndAwait(future)
        case .park(let milliseconds):
            state = .parked
            return .sendAndPark(milliseconds)
        case .close:
            state = .closing
            return .sendAndClose
        }
    }

    /// The awaited reply arrived: write it and run what accumulated meanwhile (unless the connection closed).
    mutating func replyArrived() -> Bool {
        guard state == .awaitingReply else { return false }
        state = .running
        return true
    }

    /// A parked request may run now (its timer fired, or CLIENT UNPAUSE woke it).
    mutating func woken() -> Bool {
        guard state == .parked else { return false }
        state = .running
        return true
    }

    enum QuiesceAction: Equatable {
        /// Send what is there, then end the connection gracefully (`BatchAction.sendAndEndGracefully`).
        case sendAndEndGracefully
        /// Nothing to do now: the connection closes once its awaited reply has been answered.
        case closeLater
        case none
    }

    /// Graceful shutdown: everything already read is answered, then the connection closes.
    mutating func quiesce() -> QuiesceAction {
        switch state {
        case .ready, .parked:
            // A parked request was read but cannot run before the pause ends; like Redis, shutdown does not wait.
            state = .closing
            return .sendAndEndGracefully
        case .awaitingReply:
            closeWhenDone = true
            return .closeLater
        case .running:
            preconditionFailure("shutdown arrived while a batch was running")
        case .closing, .closed:
            return .none
        }
    }

    mutating func closed() {
        state = .closed
    }
}
