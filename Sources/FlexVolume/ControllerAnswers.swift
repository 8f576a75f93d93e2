import FlexLVMCore

/// The answers that need no LVM: `init`, `getvolumename`, and `attach`, `isattached` and
/// `detach` for another node (what kube-controller-manager asks from a host that cannot see
/// the node's LVs). The static front gives these itself; everything else runs on the node.
public struct ControllerAnswers: Sendable {
    public let localNode: String
    public let capabilities: Capabilities

    public init(localNode: String, attach: Bool) {
        self.localNode = localNode
        self.capabilities = Capabilities(attach: attach)
    }

    /// The reply to `call` when it can be given without LVM, or nil when the call needs the
    /// node (the node binary must run it).
    public func answer(_ call: Call) throws -> Reply? {
        switch call {
        case .initialize:
            return Reply(.success, capabilities: capabilities)
        case .getVolumeName:
            return .notSupported
        case .attach(let options, let node) where node != localNode:
            return try remoteAttach(options)
        case .isAttached(let options, let node) where node != localNode:
            return try remoteIsAttached(options)
        case .detach(_, let node) where node != localNode:
            return remoteDetach()
        default:
            return nil
        }
    }

    /// attach from the controller: validate and return the path the LV will have on the
    /// node; activation happens in `waitforattach` there.
    public func remoteAttach(_ options: VolumeOptions) throws -> Reply {
        .success(device: try options.logicalVolume().devicePath)
    }

    /// isattached from the controller: it cannot see the node's LVs, and `false` would make
    /// the controller attach again and again, so the answer is true.
    public func remoteIsAttached(_ options: VolumeOptions) throws -> Reply {
        _ = try options.logicalVolume()
        return Reply(.success, attached: true)
    }

    /// detach from the controller: nothing to do here; the node releases the LV after the
    /// last unmount (`unmountdevice`).
    public func remoteDetach() -> Reply { .success() }
}
