import CSystem
import DeviceMapperQueries
import FlexLVMCore
import FlexVolume
import LVM
import NodeDriver

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Entry point of the node binary: owns stdout, routes library output to the log, parses
/// the call and answers it.
enum NodeMain {
    static func run() -> Never {
        // Anything a library or child prints lands in this anonymous file, which is logged;
        // only the reply reaches kubelet.
        let sink = flexlvm_memfd_create("flexlvm-stray-output")
        let replyFD = DriverProcess.takeOverStandardStreams(sink: sink >= 0 ? sink : open("/dev/null", O_WRONLY))
        let started = Clock.monotonicNanoseconds()
        let arguments = DriverProcess.rawArguments()
        _ = DriverProcess.argumentsCarrySecrets

        var log: DriverLog?
        var operation = arguments.first.flatMap { String(validating: $0, as: UTF8.self) } ?? ""
        let reply: Reply
        do {
            // Broken lines of the configuration are skipped here and refused below, except
            // for the calls that release volumes, which must work whatever the file says.
            let (configuration, problems) = Configuration.loadLeniently()
            log = DriverLog(path: configuration.logFile)
            log?.context = [("op", quoted(operation, limit: 32)), ("pid", String(getpid()))]
            LibraryMessages.install(log: log)
            switch try Invocation.parse(arguments) {
            case .notSupported:
                reply = .notSupported
            case .call(let call):
                operation = call.operation
                log?.context = [("op", operation), ("pid", String(getpid()))]
                log?.record("info", "call", call.logFields)
                if !problems.isEmpty {
                    log?.record("warning", "configuration-broken", [("problems", problems.joined(separator: "; "))])
                    if !call.releasesVolumes && call != .initialize, let error = Configuration.brokenError(problems) {
                        throw error
                    }
                }
                let answers = ControllerAnswers(localNode: NodeIdentity.localNodeName(configuration), attach: true)
                if call == .initialize {
                    reply = .initialize()
                } else if let answer = try answers.answer(call) {
                    reply = answer
                } else {
                    reply = try NodeDriver(configuration: configuration, log: log).perform(call)
                }
            }
        } catch {
            reply = .failure(error)
        }
        let elapsed = Double(Clock.monotonicNanoseconds() - started) / 1e6
        if sink >= 0, let stray = try? strayOutput(sink), !stray.isEmpty {
            log?.record("warning", "stray-output", [("output", stray)])
        }
        log?.record(
            reply.status == .failure ? "error" : "info", "reply",
            [("status", reply.status.rawValue), ("ms", String(Int(elapsed * 1000) / 1000))]
                + (reply.message.map { [("message", $0)] } ?? []) + (reply.device.map { [("device", $0)] } ?? []))
        DriverProcess.finish(reply, fd: replyFD)
    }

    private static func strayOutput(_ fd: Int32) throws -> String {
        lseek(fd, 0, SEEK_SET)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 65536 {
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
