/// Redis's `tls-*` settings kvnode has: the TLS port and the files of its certificate, key and CA. The server's TLS
/// layer (KVServer/TLS) builds its context from them; the engine only keeps them for CONFIG and hands changes to
/// the `TLSReloading` the server registers.
public struct TLSSettings: Sendable, Equatable {
    /// Whether clients must present a certificate signed by the CA (`tls-auth-clients`).
    /// (In Redis's order, which its CONFIG SET error lists.)
    public enum ClientAuthentication: String, Sendable, CaseIterable {
        /// Neither asked for nor checked.
        case no
        /// Required, Redis's default.
        case yes
        /// Checked when the client presents one.
        case optional
    }

    /// `tls-port`: 0 serves no TLS.
    public var port = 0
    /// `tls-cert-file`: the server's certificate chain (PEM).
    public var certificateFile = ""
    /// `tls-key-file`: its private key (PEM).
    public var keyFile = ""
    /// `tls-ca-cert-file`: the CA client certificates must chain to (PEM).
    public var caCertificateFile = ""
    /// `tls-auth-clients`.
    public var authenticateClients = ClientAuthentication.yes

    public init() {}

    /// Redis's start-up check: a CA is needed whenever client certificates are checked.
    public var missingCertificateAuthority: Bool {
        authenticateClients != .no && caCertificateFile.isEmpty
    }
}

/// Builds the TLS context for new settings and, if that works, installs it for new connections: registered by the
/// server, called by CONFIG SET of a `tls-*` file (Redis 7 reloads its certificates the same way).
public protocol TLSReloading: Sendable {
    /// Reads and checks every file of `settings`; returns what makes new connections use them, or throws a
    /// description of what is wrong (for the log, never for the client).
    func prepare(_ settings: TLSSettings) throws -> @Sendable () -> Void
}

/// Redis's `enable-protected-configs` values: whether CONFIG SET may change protected settings.
public enum ProtectedAction: String, Sendable, CaseIterable {
    case no, yes
    /// Only from a loopback or Unix socket connection.
    case local

    /// Redis's `allowProtectedAction`.
    func allows(fromLocalConnection isLocal: Bool) -> Bool {
        self == .yes || (self == .local && isLocal)
    }
}
