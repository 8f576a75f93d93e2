import FlexLVMCore

/// What `init` tells kubelet and KCM the driver can do (contract §3).
public struct Capabilities: Sendable, Equatable {
    public var attach: Bool
    /// ext4, xfs and btrfs all store SELinux labels in xattrs.
    public var selinuxRelabel = true
    /// kubelet reports volume stats with statfs on the pod dir.
    public var supportsMetrics = true
    /// The driver does not chown itself; kubelet applies fsGroup.
    public var fsGroup = true
    /// kubelet calls `expandfs` after the PV grows.
    public var requiresFSResize = true

    public init(attach: Bool) { self.attach = attach }

    var json: String {
        JSONWriter.object([
            ("attach", String(attach)), ("selinuxRelabel", String(selinuxRelabel)),
            ("supportsMetrics", String(supportsMetrics)), ("fsGroup", String(fsGroup)),
            ("requiresFSResize", String(requiresFSResize)),
        ])
    }
}

/// One reply to kubelet or KCM: exactly one JSON object, and the exit status that goes
/// with it (0 for Success and Not supported, 1 for Failure).
public struct Reply: Sendable, Equatable {
    /// The three statuses the client distinguishes.
    public enum Status: String, Sendable {
        case success = "Success"
        case failure = "Failure"
        case notSupported = "Not supported"
    }

    public var status: Status
    public var message: String?
    public var device: String?
    public var attached: Bool?
    public var capabilities: Capabilities?

    public init(
        _ status: Status, message: String? = nil, device: String? = nil, attached: Bool? = nil,
        capabilities: Capabilities? = nil
    ) {
        self.status = status
        self.message = message
        self.device = device
        self.attached = attached
        self.capabilities = capabilities
    }

    public static func success(device: String? = nil, message: String? = nil) -> Reply {
        Reply(.success, message: message, device: device)
    }

    public static func failure(_ message: String) -> Reply { Reply(.failure, message: message) }

    public static func failure(_ error: any Error) -> Reply {
        .failure((error as? FlexLVMError)?.description ?? "\(error)")
    }

    public static let notSupported = Reply(.notSupported)

    /// The reply to `init`: the capabilities, `attach` as ``AttachMode/current()`` decides
    /// (the only call that needs the mode).
    public static func initialize() -> Reply {
        Reply(.success, capabilities: Capabilities(attach: AttachMode.current().attach))
    }

    /// The exit status that makes the client read this reply as meant (contract §3): 1 for
    /// a Failure, except in a call whose argv carries secrets. kubelet logs the whole argv of
    /// a call that exits non-zero (the options JSON, secrets included), while a Failure with
    /// exit 0 is still an error to it (`handleCmdResponse`) and logs only the reply.
    public func exitStatus(carryingSecrets: Bool) -> Int32 {
        status == .failure && !carryingSecrets ? 1 : 0
    }

    /// The reply as one line of compact JSON.
    public var json: String {
        var members: [(String, String)] = [("status", JSONWriter.string(status.rawValue))]
        if let message { members.append(("message", JSONWriter.string(message))) }
        if let device { members.append(("device", JSONWriter.string(device))) }
        if let attached { members.append(("attached", String(attached))) }
        if let capabilities { members.append(("capabilities", capabilities.json)) }
        return JSONWriter.object(members)
    }
}
