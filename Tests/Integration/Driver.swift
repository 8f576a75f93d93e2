import FlexLVMCore
import Foundation

/// One reply of the driver binary, checked against the contract's output rules: exactly one
/// JSON object on stdout, nothing on stderr, exit status consistent with the status.
struct DriverReply {
    let status: String
    let json: [String: Any]
    let exitStatus: Int32
    let raw: String

    var message: String { json["message"] as? String ?? "" }
    var device: String? { json["device"] as? String }
    var attached: Bool? { json["attached"] as? Bool }
}

extension Fixture {
    /// The node name the driver under test believes it runs on.
    var nodeName: String { "test-node" }

    /// Settings for the driver under test: its own state, lock and log paths.
    var driverEnvironment: [String: String] {
        [
            "FLEXLVM_NODE_NAME": nodeName, "FLEXLVM_STATE_DIR": work.appendingPathComponent("state").path,
            "FLEXLVM_LOCK_DIR": work.appendingPathComponent("lock").path,
            "FLEXLVM_LOG": logPath, "FLEXLVM_KUBELET_ROOT": work.appendingPathComponent("kubelet").path,
            "FLEXLVM_STAGING_DIR": work.appendingPathComponent("staging").path,
        ]
    }

    var logPath: String { work.appendingPathComponent("log/flexlvm.log").path }

    /// Options JSON as kubelet builds it (Go's map[string]string: sorted keys).
    func options(_ lv: String, pv: String? = nil, vg: String? = nil, extra: [String: String] = [:]) -> String {
        var map: [String: String] = [
            "kubernetes.io/fsType": "", "kubernetes.io/readwrite": "rw",
            "kubernetes.io/pvOrVolumeName": pv ?? "pv-\(lv)", "volumeID": lv, "volumegroup": vg ?? volumeGroup,
        ]
        map.merge(extra) { $1 }
        let data = try! JSONSerialization.data(withJSONObject: map, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs the driver file (`flexlvm`, which hands node work to `flexlvm-node`) with argv.
    func driver(
        _ arguments: [String], binary: String? = nil, environment: [String: String] = [:],
        file: StaticString = #fileID, line: UInt = #line
    ) throws -> DriverReply {
        let program = binary ?? binaries.appendingPathComponent("flexlvm").path
        let result = try Fixture.execute(
            [program] + arguments, environment: driverEnvironment.merging(environment) { $1 })
        return try Fixture.checkReply(
            result, arguments: arguments,
            carriesSecrets: arguments.contains {
                // Foundation's JSON writer escapes '/'.
                $0.contains("kubernetes.io/secret/") || $0.contains("kubernetes.io\\/secret\\/")
            }, file: file, line: line)
    }

    /// Checks the contract's output rules and parses the reply. A Failure exits 1, except in a
    /// call that carries secrets (exit 0, so kubelet does not log the argv).
    static func checkReply(
        _ result: Subprocess.Result, arguments: [String], carriesSecrets: Bool = false, file: StaticString = #fileID,
        line: UInt = #line
    ) throws -> DriverReply {
        let call = arguments.first ?? "(none)"
        guard result.stderr.isEmpty else {
            throw TestFailure(
                "\(call): stderr must be empty, got \(quotedBytes(result.stderr))", file: file, line: line)
        }
        let text = result.standardOutput
        guard let object = try? JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any] else {
            throw TestFailure(
                "\(call): stdout is not one JSON object: \(quotedBytes(result.stdout))", file: file, line: line)
        }
        guard text.hasSuffix("}\n"), text.filter({ $0 == "\n" }).count == 1 else {
            throw TestFailure("\(call): reply must be one line: \(quotedBytes(result.stdout))", file: file, line: line)
        }
        let status = object["status"] as? String ?? ""
        let expectedExit: Int32 = status == "Failure" && !carriesSecrets ? 1 : 0
        guard ["Success", "Failure", "Not supported"].contains(status), result.status == expectedExit else {
            throw TestFailure("\(call): status \(status) with exit \(result.status): \(text)", file: file, line: line)
        }
        return DriverReply(status: status, json: object, exitStatus: result.status, raw: text)
    }

    static func quotedBytes(_ bytes: [UInt8]) -> String {
        "'" + String(decoding: bytes.prefix(400), as: UTF8.self) + (bytes.count > 400 ? "…" : "") + "'"
    }

    /// The LVM command lines the driver logged for its calls since `offset` bytes into the log.
    func lvmCommandsLogged(since offset: Int) -> [String] {
        guard let data = FileManager.default.contents(atPath: logPath), data.count > offset else { return [] }
        return String(decoding: data[offset...], as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                record["event"] as? String == "lvm-command"
            else { return nil }
            return record["detail"] as? String
        }
    }

    /// The operations whose replies the driver logged with `side` since `offset` bytes into
    /// the log ("node-hot-path": answered by the driver file without the node binary).
    func repliesLogged(since offset: Int, side: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: logPath), data.count > offset else { return [] }
        return String(decoding: data[offset...], as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                record["event"] as? String == "reply", record["side"] as? String == side
            else { return nil }
            return record["op"] as? String
        }
    }

    var logSize: Int { (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? Int) ?? 0 }

    /// Whether the LVM tools say `lv` is active.
    func isActive(_ lv: String, in vg: String? = nil) throws -> Bool {
        Array(try attributes(lv, in: vg))[4] == "a"
    }
}

func expectSuccess(_ reply: DriverReply, file: StaticString = #fileID, line: UInt = #line) throws {
    try expect(reply.status == "Success", "expected Success, got \(reply.raw)", file: file, line: line)
}

func expectFailure(
    _ reply: DriverReply, mentioning words: [String], file: StaticString = #fileID, line: UInt = #line
) throws {
    try expect(reply.status == "Failure", "expected Failure, got \(reply.raw)", file: file, line: line)
    for word in words {
        try expect(
            reply.message.contains(word), "message should mention \(word): \(reply.message)", file: file, line: line)
    }
}
