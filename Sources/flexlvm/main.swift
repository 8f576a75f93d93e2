// The FlexVolume driver file kubelet and kube-controller-manager execute
// (`<plugin dir>/flexlvm~lvm/lvm`).
//
// Built fully static, it runs anywhere, including KCM's image with no libc and no shell.
// It answers what needs no LVM itself, and the node's hot path (``HotPath``) with one
// DM_DEVICE_INFO; it hands other node-side calls (and the admin commands) to the node binary
// installed beside it (`.flexlvm-node`, a dot-name kubelet's prober ignores) with execve, so
// such a call costs one extra exec and no fork.

import DeviceMapperQueries
import FlexLVMCore
import FlexVolume

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

let arguments = DriverProcess.rawArguments()
/// Replaces this process with the node binary (beside this file); returns why that failed.
func execNode() -> String {
    let here = Paths.directory(of: Paths.currentExecutable() ?? CommandLine.arguments[0])
    let nodeCandidates = [Paths.join(here, ".flexlvm-node"), Paths.join(here, "flexlvm-node")]
    var failures: [String] = []
    for path in nodeCandidates where Files.exists(path) {
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup(path)]
        for argument in arguments {
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: argument.count + 1)
            for (index, byte) in argument.enumerated() { copy[index] = CChar(bitPattern: byte) }
            copy[argument.count] = 0
            argv.append(copy)
        }
        argv.append(nil)
        execv(path, argv)
        failures.append("\(path): \(Errno.current)")
    }
    return failures.isEmpty ? "no \(nodeCandidates.joined(separator: " or ")) found" : failures.joined(separator: "; ")
}

// Admin commands talk to a person, on the node.
if let first = arguments.first.flatMap({ String(validating: $0, as: UTF8.self) }),
    Invocation.adminCommands.contains(first)
{
    let reason = execNode()
    try? Files.writeAll(
        2, Array("flexlvm: \(first) runs in the node binary, which cannot run here: \(reason)\n".utf8), object: "stderr"
    )
    exit(1)
}

let call: Call
do {
    switch try Invocation.parse(arguments) {
    case .notSupported: DriverProcess.finish(.notSupported)
    case .call(let parsed): call = parsed
    }
} catch {
    DriverProcess.finish(.failure(error))
}

let configuration: Configuration
do {
    configuration = try Configuration.load()
} catch {
    DriverProcess.finish(.failure(error))
}
let answers = ControllerAnswers(localNode: NodeIdentity.localNodeName(configuration), attach: configuration.attach)

let driverLog = DriverLog(path: configuration.logFile)

func log(_ reply: Reply, _ detail: String, side: String = "controller") {
    driverLog.record(
        reply.status == .failure ? "error" : "info", "reply",
        [("op", call.operation), ("side", side), ("status", reply.status.rawValue), ("detail", detail)]
            + (reply.message.map { [("message", $0)] } ?? []) + (reply.device.map { [("device", $0)] } ?? []))
}

do {
    if let reply = try answers.answer(call) {
        if case .initialize = call {
        } else if case .getVolumeName = call {
        } else {
            log(reply, "answered for another node than \(answers.localNode)")
        }
        DriverProcess.finish(reply)
    }
} catch {
    let reply = Reply.failure(error)
    log(reply, "invalid call")
    DriverProcess.finish(reply)
}

// KCM's calls on a host without device-mapper (KCM's image): the controller-side answer,
// without trying the node binary.
let deviceMapperPresent = DeviceMapper.isAvailable()

// A node-side call. From here stderr is /dev/null: it is the sink for anything libdevmapper
// or the dynamic loader might print (a missing library must not corrupt the reply); replies
// go to stdout.
var reason = "no device-mapper on this host (/proc/misc lists none, or /dev/mapper/control is missing)"
if deviceMapperPresent || !call.isControllerCall {
    let devNull = open("/dev/null", O_WRONLY)
    let savedStderr = fcntl(2, F_DUPFD_CLOEXEC, 3)
    if devNull >= 0 { dup2(devNull, 2) }
    if deviceMapperPresent {
        LibraryMessages.install(log: driverLog)
        if let reply = HotPath.answer(call, configuration, log: driverLog) {
            log(reply, "answered from the kernel's device-mapper", side: "node-hot-path")
            DriverProcess.finish(reply)
        }
    }
    reason = execNode()
    if savedStderr >= 0 { dup2(savedStderr, 2) }
}

// The node binary cannot run here (KCM's image has no dynamic loader and no LVM). The
// calls KCM makes get the controller-side answer; anything else is a real failure.
do {
    let reply: Reply
    switch call {
    case .attach(let options, _): reply = try answers.remoteAttach(options)
    case .isAttached(let options, _): reply = try answers.remoteIsAttached(options)
    case .detach: reply = answers.remoteDetach()
    default:
        reply = .failure(
            "\(call.operation) must run on the node, but the node binary cannot be executed here (\(reason)); "
                + "reinstall the driver (the driver file and its .flexlvm-node beside it) and check that "
                + "libdevmapper and liblvm2cmd are installed")
    }
    log(reply, "node binary not runnable: \(reason)")
    DriverProcess.finish(reply)
} catch {
    DriverProcess.finish(.failure(error))
}
