/// What one key accepts.
public enum ConfigKind: Sendable {
    case int(ClosedRange<Int>)
    /// A real number in `range`; `open` excludes the lower bound.
    case double(ClosedRange<Double>, lowerOpen: Bool)
    case bool
    case choice([String])
    case string
    case intList(ClosedRange<Int>)
    /// Step numbers (from 1), possibly none: `[]`, `[120, 121]`.
    case stepList

    public var expectation: String {
        switch self {
        case .int(let r): return "an integer in \(r.lowerBound)...\(r.upperBound)"
        case .double(let r, let open):
            return "a number in \(open ? "(" : "[")\(r.lowerBound), \(r.upperBound)]"
        case .bool: return "true or false"
        case .choice(let options): return "one of " + options.joined(separator: ", ")
        case .string: return "a string"
        case .intList(let r): return "a non-empty list of integers in \(r.lowerBound)...\(r.upperBound), like [\(r.lowerBound)]"
        case .stepList: return "a list of step numbers from 1, like [120, 121], or []"
        }
    }
}

/// One configuration key: its type, default and the model or data set it applies to.
public struct ConfigKey: Sendable {
    public let name: String
    public let kind: ConfigKind
    /// `nil` means the key is required.
    public let defaultValue: ConfigValue?
    /// When set, the key applies only while `condition.key` has one of `condition.values`.
    public let condition: (key: String, values: [String])?
    public let help: String

    init(_ name: String, _ kind: ConfigKind, _ defaultValue: ConfigValue?,
         when condition: (String, [String])? = nil, _ help: String) {
        (self.name, self.kind, self.defaultValue) = (name, kind, defaultValue)
        self.condition = condition.map { (key: $0.0, values: $0.1) }
        self.help = help
    }
}

/// Every key a run config may set. This table is the single source of truth:
/// the loader validates against it, `--set` uses it, and `ddp config keys` prints it.
public enum ConfigSchema {
    static let big = 1 << 30

    public static let keys: [ConfigKey] = [
        // MARK: model
        ConfigKey("model.kind", .choice(["mlp", "cnn", "gpt"]), nil, "Which model to train."),
        ConfigKey("model.hidden", .intList(1...65_536), .intList([1024, 1024]), when: ("model.kind", ["mlp"]),
                  "Hidden layer widths of the MLP."),
        ConfigKey("model.activation", .choice(["relu", "gelu", "tanh"]), .string("relu"), when: ("model.kind", ["mlp"]),
                  "Hidden activation of the MLP."),
        ConfigKey("model.loss", .choice(["cross_entropy", "mse"]), .string("cross_entropy"), when: ("model.kind", ["mlp"]),
                  "Loss of the MLP: softmax cross-entropy on classes, or MSE on one-hot targets."),
        ConfigKey("model.channels", .intList(1...1024), .intList([16, 32]), when: ("model.kind", ["cnn"]),
                  "Output channels of the two convolutions."),
        ConfigKey("model.fc_width", .int(1...65_536), .int(128), when: ("model.kind", ["cnn"]),
                  "Width of the CNN's hidden fully connected layer."),
        ConfigKey("model.layers", .int(1...64), .int(4), when: ("model.kind", ["gpt"]), "Transformer blocks."),
        ConfigKey("model.heads", .int(1...64), .int(4), when: ("model.kind", ["gpt"]), "Attention heads per block."),
        ConfigKey("model.width", .int(1...8192), .int(128), when: ("model.kind", ["gpt"]), "Embedding width."),
        ConfigKey("model.context", .int(1...8192), .int(128), when: ("model.kind", ["gpt"]), "Context length in tokens."),
        ConfigKey("model.dropout", .double(0...0.95, lowerOpen: false), .double(0), "Dropout probability."),

        // MARK: data
        ConfigKey("data.dataset", .choice(["mnist", "fashion_mnist", "shakespeare", "iris", "wine", "digits", "csv",
                                           "prepared", "synthetic_classes", "synthetic_text"]), nil, "The data set."),
        ConfigKey("data.dir", .string, .string("data"), "Where launch/fetch-data.sh put the data sets."),
        ConfigKey("data.path", .string, .string(""), when: ("data.dataset", ["csv", "prepared"]),
                  "The CSV file (numeric columns, one label column), or the directory ddp prepare wrote."),
        ConfigKey("data.validation_path", .string, .string(""), when: ("data.dataset", ["prepared"]),
                  "A second prepared directory (same kind and shape) as the validation split; empty splits data.path."),
        ConfigKey("data.label_column", .int(-1_000...1_000), .int(-1), when: ("data.dataset", ["csv"]),
                  "The label column of the CSV; negative counts from the end."),
        ConfigKey("data.validation_fraction", .double(0...0.9, lowerOpen: false), .double(0.1),
                  "Held-out fraction for data sets without a test split."),
        ConfigKey("data.normalize", .choice(["none", "scale", "standardize"]), .string("standardize"),
                  when: ("data.dataset", ["mnist", "fashion_mnist", "iris", "wine", "digits", "csv", "prepared", "synthetic_classes"]),
                  "Input preprocessing: none, x/255 (or x/max), or zero mean and unit variance from the training split."),
        ConfigKey("data.samples", .int(1...big), .int(16_384),
                  when: ("data.dataset", ["synthetic_classes", "synthetic_text"]), "Size of a synthetic data set."),
        ConfigKey("data.features", .int(1...big), .int(784), when: ("data.dataset", ["synthetic_classes"]),
                  "Input features of the synthetic classification set."),
        ConfigKey("data.classes", .int(2...65_536), .int(10), when: ("data.dataset", ["synthetic_classes"]),
                  "Classes of the synthetic classification set."),
        ConfigKey("data.vocabulary", .int(2...65_536), .int(65), when: ("data.dataset", ["synthetic_text"]),
                  "Vocabulary size of the synthetic token stream."),
        ConfigKey("data.prefetch", .bool, .bool(true),
                  "Assemble the next batch on a background thread while the step computes (same results either way)."),
        ConfigKey("data.augment.flip", .bool, .bool(false), when: ("data.dataset", ["mnist", "fashion_mnist", "prepared"]),
                  "Training images: mirror left-right with probability 1/2."),
        ConfigKey("data.augment.crop_padding", .int(0...64), .int(0), when: ("data.dataset", ["mnist", "fashion_mnist", "prepared"]),
                  "Training images: pad by this many zero pixels and crop back at a random offset (a shift); 0 is off."),
        ConfigKey("data.augment.rotate_degrees", .double(0...45, lowerOpen: false), .double(0),
                  when: ("data.dataset", ["mnist", "fashion_mnist", "prepared"]),
                  "Training images: rotate by a random angle within ±this many degrees; 0 is off."),

        // MARK: optimizer
        ConfigKey("optimizer.kind", .choice(["sgd", "adam", "adamw"]), .string("sgd"), "The optimizer."),
        ConfigKey("optimizer.lr", .double(0...10, lowerOpen: true), .double(0.05), "Peak learning rate."),
        ConfigKey("optimizer.momentum", .double(0...0.9999, lowerOpen: false), .double(0.9), when: ("optimizer.kind", ["sgd"]),
                  "SGD momentum."),
        ConfigKey("optimizer.nesterov", .bool, .bool(false), when: ("optimizer.kind", ["sgd"]), "Nesterov momentum."),
        ConfigKey("optimizer.beta1", .double(0...0.9999, lowerOpen: false), .double(0.9), when: ("optimizer.kind", ["adam", "adamw"]),
                  "Adam first-moment decay."),
        ConfigKey("optimizer.beta2", .double(0...0.99999, lowerOpen: false), .double(0.999), when: ("optimizer.kind", ["adam", "adamw"]),
                  "Adam second-moment decay."),
        ConfigKey("optimizer.eps", .double(0...1, lowerOpen: true), .double(1e-8), when: ("optimizer.kind", ["adam", "adamw"]),
                  "Adam epsilon."),
        ConfigKey("optimizer.weight_decay", .double(0...1, lowerOpen: false), .double(0), "Weight decay."),
        ConfigKey("optimizer.decay_all", .bool, .bool(false),
                  "Apply weight decay to every parameter, not only to matrices."),
        ConfigKey("optimizer.clip_norm", .double(0...1e6, lowerOpen: false), .double(0),
                  "Clip gradients to this global norm; 0 turns clipping off."),

        // MARK: schedule
        ConfigKey("schedule.kind", .choice(["constant", "step", "cosine"]), .string("constant"), "Learning-rate schedule."),
        ConfigKey("schedule.warmup_steps", .int(0...big), .int(0), when: ("schedule.kind", ["cosine"]),
                  "Linear warmup steps before the cosine decay."),
        ConfigKey("schedule.step_every", .int(1...big), .int(1000), when: ("schedule.kind", ["step"]),
                  "Steps between decays."),
        ConfigKey("schedule.gamma", .double(0...1, lowerOpen: true), .double(0.1), when: ("schedule.kind", ["step"]),
                  "Decay factor."),
        ConfigKey("schedule.min_lr", .double(0...10, lowerOpen: false), .double(0), when: ("schedule.kind", ["cosine"]),
                  "Final learning rate of the cosine schedule."),

        // MARK: training
        ConfigKey("training.batch_size", .int(1...big), .int(128),
                  "Global batch size: the sum over ranks, so results do not depend on the rank count."),
        ConfigKey("training.eval_batch_size", .int(1...big), .int(1000), "Batch size of evaluation."),
        ConfigKey("training.epochs", .int(0...100_000), .int(1), "Epochs to train; 0 for no limit."),
        ConfigKey("training.steps", .int(0...big), .int(0), "Optimizer steps to train; 0 for no limit."),
        ConfigKey("training.eval_every", .int(0...big), .int(0), "Evaluate every N steps; 0 for only at the end."),
        ConfigKey("training.eval_batches", .int(0...big), .int(0), "Limit evaluation to N batches; 0 for the whole split."),
        ConfigKey("training.log_every", .int(1...big), .int(50), "Log training metrics every N steps."),
        ConfigKey("training.seed", .int(0...Int.max), .int(1), "Seed of parameter init, data order and dropout."),
        ConfigKey("training.shuffle", .bool, .bool(true), "Shuffle the training set every epoch."),
        ConfigKey("training.drop_last", .bool, .bool(true), "Drop the last incomplete global batch of each epoch."),
        ConfigKey("training.accumulation", .int(1...4096), .int(1),
                  "Micro-batches per optimizer step; gradients reduce once per step."),
        ConfigKey("training.collective_timeout", .double(0...86_400, lowerOpen: false), .double(300),
                  "Seconds a blocking collective (gradient reduction, loss sums, a whole evaluation or checkpoint write) may take before the watchdog aborts the job; 0 turns it off."),

        ConfigKey("training.memory_fraction", .double(0...1, lowerOpen: true), .double(0.9),
                  "Refuse a run whose estimated memory on a host (parameters, optimizer state, activations, batches, times the ranks on that host) exceeds this fraction of the memory available there."),

        ConfigKey("training.on_anomaly", .choice(["stop", "skip", "rollback"]), .string("stop"),
                  "An anomalous step (a NaN or Inf in the loss or gradients on any rank, or a loss or gradient-norm spike): stop the run naming the step (the last checkpoint stays the last good one), skip that step's update on every rank, or roll every rank back to the newest checkpoint, skip the step's global batch and go on. Replaces training.nonfinite, still read as its old name."),
        ConfigKey("training.spike_sigmas", .double(0...1_000_000, lowerOpen: false), .double(6),
                  "A step is a spike when the logarithm of its loss or global gradient norm exceeds the mean logarithm over the last training.spike_window steps by more than this many standard deviations, and the value is at least training.spike_ratio times their geometric mean; 0 turns spike detection off."),
        ConfigKey("training.spike_ratio", .double(1...1_000_000, lowerOpen: true), .double(3),
                  "The least multiple of the window's geometric mean that a spike reaches: a batch of unusual text or images can lie many standard deviations above a steady loss without anything having gone wrong."),
        ConfigKey("training.spike_window", .int(8...1_000_000), .int(100),
                  "Steps the running mean and standard deviation of the loss and gradient norm cover; detection starts once a quarter of the window is filled."),
        ConfigKey("training.max_rollbacks", .int(0...big), .int(5),
                  "Rollbacks a run may take (training.on_anomaly: rollback); the next anomaly then stops it."),
        ConfigKey("training.skip_steps", .stepList, .intList([]),
                  "Steps whose global batch is skipped without being computed, as a rollback skips them: a fresh run given a rolled-back run's list ends bit for bit where that run ends."),

        // MARK: checkpoint
        ConfigKey("checkpoint.every", .int(0...big), .int(0),
                  "Write a checkpoint every N steps; 0 for only at the end of the run."),
        ConfigKey("checkpoint.keep_last", .int(1...big), .int(3), "Keep this many newest checkpoints."),
        ConfigKey("checkpoint.keep_every", .int(0...big), .int(0),
                  "Also keep every checkpoint whose step is a multiple of N; 0 keeps no others."),

        // MARK: parallel
        ConfigKey("parallel.bucket_mb", .double(0...4096, lowerOpen: true), .double(4),
                  "Gradient bucket size in MiB when all ranks run on one host."),
        ConfigKey("parallel.bucket_mb_across_hosts", .double(0...4096, lowerOpen: true), .double(0.25),
                  "Gradient bucket size in MiB when the ranks span hosts: smaller buckets start crossing the network earlier in backward."),
        ConfigKey("parallel.overlap", .bool, .bool(true), "Overlap gradient allreduce with backward."),
        ConfigKey("parallel.gradient_dtype", .choice(["float32", "bf16"]), .string("float32"),
                  "Precision of the gradient exchange."),
        ConfigKey("parallel.transport", .choice(["auto", "mpi"]), .string("auto"),
                  "Gradient transport: auto averages in shared memory when all ranks share a node, and in shared memory inside each host plus MPI between hosts when ranks span hosts with the same number of ranks each; mpi always uses flat MPI collectives."),
        ConfigKey("parallel.zero", .int(0...1), .int(0), "ZeRO stage: 0 off, 1 shards optimizer state."),
        ConfigKey("parallel.consistency_every", .int(0...big), .int(0),
                  "Compare a parameter checksum across ranks every N steps; 0 only at the end."),
    ]

    /// Old key names still read, and the key each now means. A run's saved
    /// config (in its checkpoints) keeps loading after a rename.
    public static let renamedKeys: [String: String] = ["training.nonfinite": "training.on_anomaly"]

    /// `name`, or the key it was renamed to.
    static func currentName(_ name: String) -> String { renamedKeys[name] ?? name }

    /// The key called `name`, if any.
    public static func key(_ name: String) -> ConfigKey? {
        keys.first { $0.name == name }
    }

    /// The known key closest to `name`, for "did you mean" hints.
    static func closestKey(to name: String) -> String? {
        let scored = keys.map { ($0.name, editDistance($0.name, name)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(3, name.count / 3) else { return nil }
        return best
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1,
                                 previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
