import Foundation

/// One integration test.
struct TestCase: Sendable {
    let name: String
    let body: @Sendable (Fixture) throws -> Void

    init(_ name: String, _ body: @escaping @Sendable (Fixture) throws -> Void) {
        self.name = name
        self.body = body
    }
}

/// A failed expectation.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String, file: StaticString = #fileID, line: UInt = #line) {
        self.description = "\(file):\(line): \(description)"
    }
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line)
    throws
{
    if !condition { throw TestFailure(message(), file: file, line: line) }
}

func expectEqual<T: Equatable>(
    _ actual: T, _ expected: T, _ what: String = "", file: StaticString = #fileID, line: UInt = #line
) throws {
    if actual != expected {
        throw TestFailure(
            "\(what.isEmpty ? "" : what + ": ")expected \(expected), got \(actual)", file: file, line: line)
    }
}

/// All tests, in the order they run.
enum AllTests {
    static var cases: [TestCase] {
        LVMChainTests.cases + AttachTests.cases + EmptyRootTests.cases + MountTests.cases + DirectMountTests.cases
            + SafetyTests.cases + KubeletOrderTests.cases + AdminTests.cases + MetricsTests.cases
            + SnapshotTests.cases + CorpusTests.cases + ReliabilityTests.cases
    }
}

/// Runs the selected tests and prints one line per test and a closing `N passed, N failed`.
enum IntegrationRunner {
    static func main(_ arguments: [String]) -> Never {
        var filter: String?
        var index = 1
        while index < arguments.count {
            switch arguments[index] {
            case "--list":
                for test in AllTests.cases { print(test.name) }
                exit(0)
            case "--filter" where index + 1 < arguments.count:
                index += 1
                filter = arguments[index]
            default:
                print("usage: flexlvm-integration [--list] [--filter TEXT]")
                exit(2)
            }
            index += 1
        }
        let selected = AllTests.cases.filter { filter == nil || $0.name.contains(filter!) }
        guard !selected.isEmpty else {
            print("no integration test matches \(filter ?? "")")
            print("integration: 0 passed, 1 failed")
            exit(1)
        }
        var passed = 0
        var failed: [String] = []
        let fixture: Fixture
        do {
            fixture = try Fixture.make()
        } catch {
            print("FAIL fixture setup: \(error)")
            print("integration: 0 passed, \(selected.count) failed")
            exit(1)
        }
        for test in selected {
            let start = Date()
            do {
                try fixture.reset()
                try test.body(fixture)
                passed += 1
                say("PASS \(test.name) (\(milliseconds(since: start)) ms)")
            } catch {
                failed.append(test.name)
                say("FAIL \(test.name) (\(milliseconds(since: start)) ms): \(error)")
            }
        }
        fixture.tearDown()
        for name in failed { print("failed: \(name)") }
        print("integration: \(passed) passed, \(failed.count) failed")
        exit(failed.isEmpty ? 0 : 1)
    }

    /// Prints a line and flushes it, so the host sees progress live.
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func milliseconds(since start: Date) -> Int { Int(Date().timeIntervalSince(start) * 1000) }
}
