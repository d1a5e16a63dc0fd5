import ArgumentParser
import RunConfig
import Training

/// `ddp config`: the keys a run config may set, and a config as it resolves.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "List config keys, or show a config with defaults and overrides applied.",
        subcommands: [Keys.self, Show.self]
    )

    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every config key with its type, default and meaning.")

        func run() {
            for key in ConfigSchema.keys {
                let fallback = key.defaultValue.map { "\($0)" } ?? "(required)"
                let scope = key.condition.map { "  [when \($0.key) is \($0.values.joined(separator: "|"))]" } ?? ""
                print("\(key.name) = \(fallback)\(scope)\n    \(key.help) Expects \(key.kind.expectation).")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a config as it resolves, with its digest.")

        @Option(name: .long, help: "The YAML run config.")
        var config: String

        @Option(name: .customLong("set"), help: "Override a key: --set training.epochs=3 (repeatable).")
        var overrides: [String] = []

        func run() throws {
            try exitOnUserError {
                let resolved = try ResolvedConfig.load(path: config, overrides: overrides)
                print(resolved.yaml, terminator: "")
                print("# digest \(resolved.digest)")
            }
        }
    }
}
