import TensorCore

/// A LeNet-style convolutional classifier for small square images:
/// conv k×k → ReLU → max-pool 2 → conv k×k → ReLU → max-pool 2 → flatten →
/// Linear → ReLU (→ dropout) → Linear.
///
/// Parameters are named `conv1.weight`, `conv1.bias`, `conv2.*`, `fc1.*`, `fc2.*`.
/// Inputs are `[B, channels, size, size]` or flat `[B, channels·size·size]`.
public final class LeNet: Model {
    /// The shape of the network.
    public struct Configuration: Sendable, Equatable, Codable {
        /// Channels of the input image.
        public var inputChannels: Int
        /// The side of the square input image.
        public var imageSize: Int
        /// Filters of the first convolution.
        public var conv1Channels: Int
        /// Filters of the second convolution.
        public var conv2Channels: Int
        /// The side of both convolution kernels.
        public var kernel: Int
        /// Width of the hidden fully connected layer.
        public var hidden: Int
        /// Output classes.
        public var classes: Int
        /// The dropout rate before the last layer (0 for none).
        public var dropout: Float

        public init(inputChannels: Int = 1, imageSize: Int = 28, conv1Channels: Int = 16,
                    conv2Channels: Int = 32, kernel: Int = 5, hidden: Int = 128,
                    classes: Int = 10, dropout: Float = 0) {
            (self.inputChannels, self.imageSize, self.conv1Channels) = (inputChannels, imageSize, conv1Channels)
            (self.conv2Channels, self.kernel, self.hidden, self.classes) = (conv2Channels, kernel, hidden, classes)
            self.dropout = dropout
        }

        /// The spatial side after both conv + pool stages.
        public var featureSize: Int {
            ((imageSize - kernel + 1) / 2 - kernel + 1) / 2
        }

        /// Inputs to the first fully connected layer.
        public var flatFeatures: Int { conv2Channels * featureSize * featureSize }
    }

    /// The configuration this model was built from.
    public let configuration: Configuration
    public var parameters: ParameterStore { stack.store }

    public var layerObserver: LayerObserver? {
        get { stack.observer }
        set { stack.observer = newValue }
    }
    public var isTraining = true
    public var dropoutGenerator = RandomGenerator(seed: 0, stream: 0xD80)

    private let stack: LayerStack
    private let loss = SoftmaxCrossEntropy()

    /// Builds the layers and an all-zero parameter store; call
    /// ``initializeParameters(seed:)`` before training.
    public init(_ configuration: Configuration = Configuration()) {
        let c = configuration
        precondition(c.inputChannels > 0 && c.conv1Channels > 0 && c.conv2Channels > 0
                     && c.hidden > 0 && c.classes > 0 && c.kernel > 0,
                     "LeNet: every size must be positive, got \(c)")
        precondition(c.featureSize > 0, "LeNet: a \(c.imageSize)-pixel image is too small for two \(c.kernel)x\(c.kernel) conv + pool stages")
        self.configuration = configuration
        var layers: [(name: String, layer: Layer)] = [
            ("conv1", Conv2d(inChannels: c.inputChannels, outChannels: c.conv1Channels, kernel: c.kernel)),
            ("relu1", ReLU()),
            ("pool1", MaxPool2d(kernel: 2)),
            ("conv2", Conv2d(inChannels: c.conv1Channels, outChannels: c.conv2Channels, kernel: c.kernel)),
            ("relu2", ReLU()),
            ("pool2", MaxPool2d(kernel: 2)),
            ("flatten", Flatten()),
            ("fc1", Linear(inputs: c.flatFeatures, outputs: c.hidden)),
            ("relu3", ReLU()),
        ]
        if c.dropout > 0 { layers.append(("dropout", Dropout(rate: c.dropout))) }
        layers.append(("fc2", Linear(inputs: c.hidden, outputs: c.classes)))
        stack = LayerStack(layers)
    }

    public func initializeParameters(seed: UInt64) {
        stack.initializeParameters(seed: seed)
    }

    public func forward(inputs: Tensor, targets: Tensor) -> LossResult {
        loss.forward(run(inputs, training: isTraining), targets: targets)
    }

    public func backward(gradientsReady: ((Range<Int>) -> Void)?) {
        stack.backward(loss.backward(scale: 1), gradientsReady: gradientsReady)
    }

    /// Class logits `[B, classes]`, dropout off.
    ///
    /// Reuses the forward workspaces, so call it outside a forward/backward pair.
    public func logits(inputs: Tensor) -> Tensor {
        run(inputs, training: false).clone()
    }

    private func run(_ inputs: Tensor, training: Bool) -> Tensor {
        let c = configuration
        let image = c.inputChannels * c.imageSize * c.imageSize
        precondition(inputs.rank >= 1 && inputs.shape[0] > 0 && inputs.count == inputs.shape[0] * image,
                     "LeNet: expected [B, \(c.inputChannels), \(c.imageSize), \(c.imageSize)] or [B, \(image)] inputs, got \(inputs.shape)")
        // conv1 unfolds the input into its own columns, so no copy is needed here.
        let x = inputs.reshaped([inputs.shape[0], c.inputChannels, c.imageSize, c.imageSize])
        var context = ForwardContext(isTraining: training, generator: dropoutGenerator)
        let output = stack.forward(x, context: &context)
        if training { dropoutGenerator = context.generator }
        return output
    }
}
