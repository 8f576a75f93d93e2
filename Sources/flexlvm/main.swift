// The FlexVolume driver file kubelet and kube-controller-manager execute
// (`<plugin dir>/flexlvm~lvm/lvm`).
//
// Built fully static, it runs anywhere, including KCM's image with no libc and no shell.
// It answers what needs no LVM itself, and the node's hot path (``HotPath``) with one
// DM_DEVICE_INFO; it runs the node binary installed beside it (`.flexlvm-node`, a dot-name
// kubelet's prober ignores) for other node-side calls and passes its reply on, or replies a
// Failure naming why the node binary gave none (a missing library, say). Admin commands, which
// talk to a person, replace this process with the node binary (execve).

import DeviceMapperQueries
import FlexLVMCore
import FlexVolume

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

let arguments = DriverProcess.rawArguments()
_ = DriverProcess.argumentsCarrySecrets

/// The node binary running for this call, so that a signal kubelet sends this process (its
/// timeout's SIGTERM) reaches the one doing the work, as it did when the node binary
/// replaced this process.
nonisolated(unsafe) var nodeProcess: pid_t = 0
/// Replaces this process with the node binary (beside this file), for the admin commands,
/// which talk to a person on a terminal; returns why that failed.
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

// init answers from what cannot be broken: kubelet drops a plugin whose init fails, and with
// it the unmounts of every volume in use. The configuration file is not read (but for a valid
// `attach` line); a broken one is reported by the calls that need it and by `doctor`.
if case .initialize = call {
    DriverProcess.finish(.initialize())
}
if case .getVolumeName = call { DriverProcess.finish(.notSupported) }

let configuration: Configuration
if call.releasesVolumes {
    configuration = Configuration.loadLeniently().0
} else {
    do {
        configuration = try Configuration.load()
    } catch {
        DriverProcess.finish(.failure(error))
    }
}
// `init` was answered above: the attach capability plays no part from here.
let answers = ControllerAnswers(localNode: NodeIdentity.localNodeName(configuration), attach: true)

let driverLog = DriverLog(path: configuration.logFile)

func log(_ reply: Reply, _ detail: String, side: String = "controller") {
    driverLog.record(
        reply.status == .failure ? "error" : "info", "reply",
        [("op", call.operation), ("side", side), ("status", reply.status.rawValue), ("detail", detail)]
            + call.logFields + (reply.message.map { [("message", $0)] } ?? [])
            + (reply.device.map { [("device", $0)] } ?? []))
}

do {
    if let reply = try answers.answer(call) {
        log(reply, "answered for another node than \(answers.localNode)")
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

/// Runs the node binary (beside this file) with this call's argv and passes its reply on.
/// Returns why it could not, when it gave no reply: the node binary is dynamically linked, and
/// a library its loader cannot find (or any failure before its `main`) leaves no JSON at all,
/// which kubelet would log as "unexpected end of JSON input".
func runNode() -> String {
    let here = Paths.directory(of: Paths.currentExecutable() ?? CommandLine.arguments[0])
    let nodeCandidates = [Paths.join(here, ".flexlvm-node"), Paths.join(here, "flexlvm-node")]
    guard let path = nodeCandidates.first(where: Files.exists) else {
        return "no \(nodeCandidates.joined(separator: " or ")) found"
    }
    for number in [SIGTERM, SIGINT, SIGHUP] {
        signal(number) { received in
            if nodeProcess > 0 { kill(nodeProcess, received) }
        }
    }
    let result: Subprocess.Result
    do {
        result = try Subprocess.run(program: path, rawArguments: arguments, onSpawn: { nodeProcess = $0 })
    } catch {
        return "\(path): \(error)"
    }
    if !result.stdout.isEmpty {
        try? Files.writeAll(1, result.stdout, object: "reply")
        exit(result.status)
    }
    if result.status > 128 && !DriverProcess.argumentsCarrySecrets {
        // Killed (the OOM killer, kubelet's timeout, a test's SIGKILL): die the same way, as
        // an exec'd node binary would have. Not with secrets in argv: kubelet would log them.
        let number = result.status - 128
        signal(number, SIG_DFL)
        kill(getpid(), number)
    }
    let said = result.standardError.split(separator: "\n").first.map { quoted(String($0), limit: 300) }
    if result.status > 128 { return "\(path) was killed by signal \(result.status - 128) before replying" }
    return "\(path) exited with status \(result.status) before replying"
        + (said.map { ": \($0)" } ?? "")
        + (result.status == 127 ? " (a shared library it needs is missing: check 'ldd \(path)')" : "")
}

// A node-side call. From here stderr is /dev/null: it is the sink for anything libdevmapper
// might print on the hot path; replies go to stdout.
var reason = "no device-mapper on this host (/proc/misc lists none, or /dev/mapper/control is missing)"
if deviceMapperPresent || !call.isControllerCall {
    let devNull = open("/dev/null", O_WRONLY)
    if devNull >= 0 { dup2(devNull, 2) }
    if deviceMapperPresent {
        LibraryMessages.install(log: driverLog)
        if let reply = HotPath.answer(call, configuration, log: driverLog) {
            log(reply, "answered from the kernel's device-mapper", side: "node-hot-path")
            DriverProcess.finish(reply)
        }
    }
    reason = runNode()
}

// The node binary cannot run here. Without device-mapper (KCM's image, which has no dynamic
// loader and no LVM, or a controller host), the calls KCM makes get the controller-side
// answer; on a node (device-mapper present) every call is a Failure naming why, since a
// Success there would claim work (a release, an activation) that was not done.
do {
    let reply: Reply
    switch call {
    case .attach(let options, _) where !deviceMapperPresent: reply = try answers.remoteAttach(options)
    case .isAttached(let options, _) where !deviceMapperPresent: reply = try answers.remoteIsAttached(options)
    case .detach where !deviceMapperPresent: reply = answers.remoteDetach()
    default:
        reply = .failure(
            "\(call.operation) must run on the node, but the node binary cannot run here (\(reason)); "
                + "reinstall the driver (the driver file and its .flexlvm-node beside it) and check that "
                + "libdevmapper, liblvm2cmd and libblkid are installed ('flexlvm doctor')")
    }
    log(reply, "node binary not runnable: \(reason)")
    DriverProcess.finish(reply)
} catch {
    DriverProcess.finish(.failure(error))
}
