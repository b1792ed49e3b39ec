import KVEngine
import Logging
import NIOConcurrencyHelpers
import NIOSSL

/// The TLS port's context: built from the `tls-*` files at start-up and rebuilt by CONFIG SET of one of them, as
/// Redis 7 reloads its certificates. A connection takes the context current when it is accepted, so a reload
/// changes what new connections are served and leaves open ones alone. Building a context reads and parses the
/// files, so it is done once per change, never per connection.
final class TLSContextSource: TLSReloading {
    private let current: NIOLockedValueBox<NIOSSLContext>
    private let logger: Logger

    /// - Throws: `TLSSetupError` naming what is wrong with `settings`' files.
    init(settings: TLSSettings, logger: Logger) throws {
        current = NIOLockedValueBox(try Self.makeContext(settings))
        self.logger = logger
    }

    /// The context for a connection accepted now.
    var context: NIOSSLContext { current.withLockedValue { $0 } }

    func prepare(_ settings: TLSSettings) throws -> @Sendable () -> Void {
        let context: NIOSSLContext
        do {
            context = try Self.makeContext(settings)
        } catch {
            logger.warning("cannot use the new TLS configuration", metadata: ["error": "\(error)"])
            throw error
        }
        return { [current, logger] in
            current.withLockedValue { $0 = context }
            logger.notice("TLS configuration reloaded", metadata: ["cert": "\(settings.certificateFile)"])
        }
    }

    /// A server context as Redis configures its own: TLS 1.2 and 1.3 (swift-nio-ssl would allow 1.0), client
    /// certificates required, checked when presented, or ignored as `tls-auth-clients` says, against the CA file
    /// only (never the system's store).
    static func makeContext(_ settings: TLSSettings) throws -> NIOSSLContext {
        guard !settings.certificateFile.isEmpty, !settings.keyFile.isEmpty else {
            throw TLSSetupError("both tls-cert-file and tls-key-file are needed")
        }
        if settings.missingCertificateAuthority {
            throw TLSSetupError(
                "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or "
                    + "tls-auth-clients are enabled!")
        }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(settings.certificateFile)
        } catch {
            throw TLSSetupError("cannot load the certificate \(settings.certificateFile): \(error)")
        }
        guard !chain.isEmpty else { throw TLSSetupError("no certificate in \(settings.certificateFile)") }
        do {
            key = try NIOSSLPrivateKey(file: settings.keyFile, format: .pem)
        } catch {
            throw TLSSetupError("cannot load the private key \(settings.keyFile): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.maximumTLSVersion = .tlsv13
        switch settings.authenticateClients {
        case .yes: configuration.certificateVerification = .noHostnameVerification
        case .optional: configuration.certificateVerification = .optionalVerification
        case .no: configuration.certificateVerification = .none
        }
        if !settings.caCertificateFile.isEmpty {
            configuration.trustRoots = .file(settings.caCertificateFile)
            // Clients (redis-cli among them) pick the certificate to present by the CA names the server sends.
            configuration.sendCANameList = true
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError("cannot set up TLS with \(settings.certificateFile) and \(settings.keyFile): \(error)")
        }
    }
}

/// Why the TLS files cannot be used; for the log and start-up errors, never sent to a client (it names files).
struct TLSSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
