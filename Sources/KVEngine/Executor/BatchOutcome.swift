import NIOCore

/// What the connection does after a batch.
public struct BatchOutcome {
    /// A commit of the batch reached LevelDB: with `high` durability the replies wait for an fsync.
    public var wroteData: Bool
    /// The replies wait for the commit at the end of the event loop's turn (`TurnCommitListener.turnCommitted`).
    public var awaitsCommit: Bool
    public var next: Next

    public enum Next {
        /// Every complete request was answered: send the replies and read on.
        case readMore
        /// Send the replies so far; the next reply comes from this future (`Executor.completeDeferredReply`), and
        /// the requests read meanwhile run after it.
        case awaitReply(EventLoopFuture<DeferredReply>)
        /// A request waits: run the batch again after this many milliseconds (nil: no timer), or earlier on
        /// `ConnectionControl.wake`.
        case park(wakeAfterMilliseconds: Int64?)
        /// Send the replies, then close the connection.
        case close
    }
}
