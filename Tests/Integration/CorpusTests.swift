import FlexLVMCore
import Foundation

/// The bad-input corpus (Tests/Integration/Corpus/bad-input.json): each hostile or broken
/// invocation must give exactly one JSON object on stdout, nothing on stderr, the expected
/// status and exit code, a message naming the problem, and no change on the node.
enum CorpusTests {
    static var corpusPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus/bad-input.json").path
    }

    static let cases: [TestCase] = [TestCase("reliability/bad-input-corpus", run)]

    static func run(_ fixture: Fixture) throws {
        guard let data = FileManager.default.contents(atPath: corpusPath),
            let corpus = try JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else { throw TestFailure("cannot read \(corpusPath)") }
        try expect(corpus.count >= 100, "the corpus has at least 100 cases (\(corpus.count))")

        try fixture.createVolume("corpus-lv")
        try fixture.createVolume("corpus-active", active: true)
        let file = fixture.work.appendingPathComponent("regular-file").path
        _ = FileManager.default.createFile(atPath: file, contents: Data("not a device".utf8))
        let substitutions = [
            "{VG}": fixture.volumeGroup, "{LV}": "corpus-lv", "{ACTIVE}": "corpus-active", "{NODE}": fixture.nodeName,
            "{GLOBAL}": "\(fixture.kubeletRoot)/plugins/kubernetes.io/flexvolume/flexlvm/lvm/mounts",
            "{PODS}": "\(fixture.kubeletRoot)/pods", "{KUBELET}": fixture.kubeletRoot, "{FILE}": file,
        ]
        func substitute(_ text: String) -> String {
            substitutions.reduce(text) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
        }
        func substitute(json value: Any) -> Any {
            switch value {
            case let text as String: return substitute(text)
            case let array as [Any]: return array.map { substitute(json: $0) }
            case let object as [String: Any]:
                return Dictionary(uniqueKeysWithValues: object.map { (substitute($0.key), substitute(json: $0.value)) })
            default: return value
            }
        }
        func bytes(_ argument: Any) throws -> [UInt8] {
            if let text = argument as? String { return Array(substitute(text).utf8) }
            guard let object = argument as? [String: Any] else { throw TestFailure("bad corpus argument \(argument)") }
            if let hex = object["hex"] as? String {
                let digits = Array(hex)
                return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
            }
            if let unit = object["repeat"] as? String, let count = object["count"] as? Int {
                return Array(String(repeating: unit, count: count).utf8)
            }
            if let json = object["json"] {
                let value = substitute(json: json)
                if JSONSerialization.isValidJSONObject(value) {
                    return Array(try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]))
                }
                return Array(
                    try JSONSerialization.data(withJSONObject: [value], options: [.fragmentsAllowed]).dropFirst()
                        .dropLast())
            }
            throw TestFailure("bad corpus argument \(object)")
        }

        let before = try NodeState.full(fixture)
        var failures: [String] = []
        let driver = fixture.binaries.appendingPathComponent("flexlvm").path
        let environment = fixture.driverEnvironment.map { "\($0)=\($1)" } + ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
        for entry in corpus {
            let name = entry["name"] as? String ?? "?"
            let expected = entry["status"] as? String ?? "Failure"
            let mentions = entry["mentions"] as? [String] ?? []
            let arguments = try (entry["argv"] as? [Any] ?? []).map(bytes)
            let kernelBefore = NodeState.kernel()
            let result = try Subprocess.run(
                program: driver, rawArguments: arguments, environment: environment, timeout: 120)
            do {
                let carriesSecrets = arguments.contains {
                    let text = String(decoding: $0, as: UTF8.self)
                    return text.contains("kubernetes.io/secret/") || text.contains("kubernetes.io\\/secret\\/")
                }
                let reply = try Fixture.checkReply(result, arguments: [name], carriesSecrets: carriesSecrets)
                try expectEqual(reply.status, expected, "status")
                for word in mentions {
                    try expect(
                        reply.message.contains(substitute(word)), "message lacks \(quoted(word)): \(reply.message)")
                }
                if expected == "Failure" { try expect(!reply.message.isEmpty, "a Failure names its problem") }
                let kernelAfter = NodeState.kernel()
                try expect(kernelAfter == kernelBefore, "node changed: \(kernelAfter.difference(from: kernelBefore))")
            } catch {
                failures.append("\(name): \(error)")
            }
        }
        let after = try NodeState.full(fixture)
        try expect(after == before, "LVM or kernel state changed over the corpus: \(after.difference(from: before))")
        IntegrationRunner.say("  corpus: \(corpus.count - failures.count) of \(corpus.count) cases as expected")
        try expect(
            failures.isEmpty,
            "\(failures.count) corpus cases failed:\n    " + failures.prefix(20).joined(separator: "\n    "))
    }
}
