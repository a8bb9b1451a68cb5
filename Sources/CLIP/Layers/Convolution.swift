import Compute
import Foundation

/// A batch of feature maps stored channels-last (NHWC): row
/// (n·height + y)·width + x of `values` holds pixel (x, y) of image n, one
/// column a channel. A 1 × 1 convolution is then a `Linear` over the rows,
/// and attention's tokens are the rows of one image as they stand.
struct FeatureMaps {
    var values: Matrix
    let images: Int
    let height: Int
    let width: Int

    var channels: Int { values.columns }
    var pixels: Int { height * width }

    init(_ values: Matrix, images: Int, height: Int, width: Int) {
        precondition(values.rows == images * height * width)
        self.values = values
        self.images = images
        self.height = height
        self.width = width
    }

    /// From `images` × 3 × size × size floats, NCHW (the preprocessor's).
    /// Each image's mean over its pixels: images × channels.
    func channelMeans() -> Matrix {
        var means = Matrix(zeros: images, channels)
        for image in 0..<images {
            var sums = [Double](repeating: 0, count: channels)
            for pixel in 0..<pixels {
                let row = (image * pixels + pixel) * channels
                for c in 0..<channels { sums[c] += Double(values.values[row + c]) }
            }
            for c in 0..<channels { means.values[image * channels + c] = Float(sums[c] / Double(pixels)) }
        }
        return means
    }

    init(pixels: [Float], images: Int, size: Int) {
        var values = Matrix(uninitialized: images * size * size, 3)
        for image in 0..<images {
            for channel in 0..<3 {
                let plane = (image * 3 + channel) * size * size
                for pixel in 0..<size * size {
                    values.values[(image * size * size + pixel) * 3 + channel] = pixels[plane + pixel]
                }
            }
        }
        self.init(values, images: images, height: size, width: size)
    }
}

/// A convolution and the BatchNorm after it, folded together in the
/// PyTorch layout (`outputs × inputs/groups × k × k`), as timm's
/// `reparameterize` folds them: scale t = γ / √(var + ε), W' = W·t, b' = β − mean·t.
/// Branches of a re-parameterisable block are summed in this form.
struct FoldedConvolution {
    let outputs: Int
    /// Inputs per group.
    let inputsPerGroup: Int
    let kernel: Int
    var weight: [Float]
    var bias: [Float]

    init(outputs: Int, inputsPerGroup: Int, kernel: Int) {
        self.outputs = outputs
        self.inputsPerGroup = inputsPerGroup
        self.kernel = kernel
        weight = [Float](repeating: 0, count: outputs * inputsPerGroup * kernel * kernel)
        bias = [Float](repeating: 0, count: outputs)
    }

    /// BatchNorm `prefix` ({weight, bias, running_mean, running_var}, ε 1e-5) as
    /// a per-channel scale and shift; its `num_batches_tracked` is read and dropped.
    static func batchNorm(_ reader: WeightReader, _ prefix: String, channels: Int) throws(CLIPError) -> (scale: [Float], shift: [Float]) {
        let gamma = try reader.tensor(prefix + ".weight", shape: [channels]), beta = try reader.tensor(prefix + ".bias", shape: [channels])
        let mean = try reader.tensor(prefix + ".running_mean", shape: [channels])
        let variance = try reader.tensor(prefix + ".running_var", shape: [channels])
        reader.skip(prefix + ".num_batches_tracked")
        var scale = [Float](repeating: 0, count: channels), shift = scale
        for c in 0..<channels {
            scale[c] = gamma[c] / (variance[c] + 1e-5).squareRoot()
            shift[c] = beta[c] - mean[c] * scale[c]
        }
        return (scale, shift)
    }

    /// Adds timm's ConvNormAct `prefix` (`conv.weight` of `kernel` ×
    /// `kernel`, no bias, then `bn`), centred in this kernel when smaller.
    mutating func add(_ reader: WeightReader, convolution prefix: String, kernel small: Int) throws(CLIPError) {
        let weight = try reader.tensor(prefix + ".conv.weight", shape: [outputs, inputsPerGroup, small, small])
        let (scale, shift) = try Self.batchNorm(reader, prefix + ".bn", channels: outputs)
        add(weight: weight, kernel: small, scale: scale)
        for o in 0..<outputs { bias[o] += shift[o] }
    }

    /// Adds `weight` (outputs × inputsPerGroup × small × small) times a
    /// per-output `scale`, centred.
    mutating func add(weight source: [Float], kernel small: Int, scale: [Float]? = nil) {
        let margin = (kernel - small) / 2
        for o in 0..<outputs {
            for i in 0..<inputsPerGroup {
                for y in 0..<small {
                    for x in 0..<small {
                        weight[index(o, i, y + margin, x + margin)] += source[((o * inputsPerGroup + i) * small + y) * small + x] * (scale?[o] ?? 1)
                    }
                }
            }
        }
    }

    /// Adds the identity branch a BatchNorm `prefix` stands for (where
    /// outputs equal inputs and the stride is 1): its scale at the kernel's
    /// centre, from input o % inputsPerGroup, and its shift.
    mutating func add(_ reader: WeightReader, identity prefix: String) throws(CLIPError) {
        let (scale, shift) = try Self.batchNorm(reader, prefix, channels: outputs)
        addIdentity(scale: scale)
        for o in 0..<outputs { bias[o] += shift[o] }
    }

    /// Adds `scale`·x (1 when nil) as a kernel: the centre tap of each output's own input.
    mutating func addIdentity(scale: [Float]? = nil) {
        for o in 0..<outputs { weight[index(o, o % inputsPerGroup, kernel / 2, kernel / 2)] += scale?[o] ?? 1 }
    }

    private func index(_ o: Int, _ i: Int, _ y: Int, _ x: Int) -> Int { ((o * inputsPerGroup + i) * kernel + y) * kernel + x }

    /// Multiplies every weight and bias of output o by `scale[o]`.
    mutating func scale(by scale: [Float]) {
        let taps = inputsPerGroup * kernel * kernel
        for o in 0..<outputs {
            for t in 0..<taps { weight[o * taps + t] *= scale[o] }
            bias[o] *= scale[o]
        }
    }
}

/// The window of a convolution with an odd kernel, padded as timm pads them
/// (`get_padding`: ((stride − 1) + (kernel − 1)) / 2 on every side).
struct ConvolutionWindow: Sendable {
    let kernel: Int
    let stride: Int
    var padding: Int { ((stride - 1) + (kernel - 1)) / 2 }

    /// The output's height and width for `x`.
    func outputSize(of x: FeatureMaps) -> (height: Int, width: Int) {
        ((x.height + 2 * padding - kernel) / stride + 1, (x.width + 2 * padding - kernel) / stride + 1)
    }
}

/// A depthwise convolution (groups = input channels) with a bias, run by
/// `Kernels.depthwiseConvolution` on every core. A channel multiplier of 2
/// (timm's downsampling convolutions: output o reads input o / 2) runs as a
/// depthwise convolution of the input with each channel doubled.
struct DepthwiseConvolution: Sendable {
    let channels: Int
    let multiplier: Int
    let window: ConvolutionWindow
    /// kernel × kernel × channels·multiplier, channels innermost.
    let weight: [Float]
    let bias: [Float]

    /// `folded`'s outputs are the input channels times `multiplier` (1 or 2).
    init(_ folded: FoldedConvolution, stride: Int, multiplier: Int = 1) {
        precondition(folded.inputsPerGroup == 1 && (multiplier == 1 || multiplier == 2))
        let outputs = folded.outputs, k = folded.kernel
        channels = outputs / multiplier
        self.multiplier = multiplier
        window = ConvolutionWindow(kernel: k, stride: stride)
        var weight = [Float](repeating: 0, count: k * k * outputs)
        for o in 0..<outputs {
            for tap in 0..<k * k { weight[tap * outputs + o] = folded.weight[o * k * k + tap] }
        }
        self.weight = weight
        bias = folded.bias
    }

    func callAsFunction(_ x: FeatureMaps) -> FeatureMaps {
        precondition(x.channels == channels)
        let input = multiplier == 2 ? Self.doubled(x.values) : x.values
        let outputChannels = channels * multiplier
        let (outHeight, outWidth) = window.outputSize(of: x)
        var out = Matrix(uninitialized: x.images * outHeight * outWidth, outputChannels)
        let rows = x.images * outHeight
        let kernels = Kernels.active
        let (kernel, stride, padding, height, width) = (window.kernel, window.stride, window.padding, x.height, x.width)
        input.values.withUnsafeBufferPointer { source in
            weight.withUnsafeBufferPointer { weight in
                bias.withUnsafeBufferPointer { bias in
                    out.values.withUnsafeMutableBufferPointer { target in
                        let (s, w, b, t) = (SendablePointer(source.baseAddress!), SendablePointer(weight.baseAddress!),
                                            SendablePointer(bias.baseAddress!), SendableMutablePointer(target.baseAddress!))
                        let work = outWidth * outputChannels * kernel * kernel
                        Parallel.run(Parallel.ranges(of: rows, work: rows * work, minimumWork: 1 << 15)) { _, range in
                            kernels.depthwiseConvolution(s.pointer, height: height, width: width, channels: outputChannels,
                                                         weight: w.pointer, bias: b.pointer, kernel: kernel, stride: stride,
                                                         padding: padding, into: t.pointer, outHeight: outHeight, outWidth: outWidth,
                                                         rows: range)
                        }
                    }
                }
            }
        }
        return FeatureMaps(out, images: x.images, height: outHeight, width: outWidth)
    }

    /// Each channel of every pixel twice, side by side, on every core.
    private static func doubled(_ x: Matrix) -> Matrix {
        let channels = x.columns
        var doubled = Matrix(uninitialized: x.rows, 2 * channels)
        x.values.withUnsafeBufferPointer { source in
            doubled.values.withUnsafeMutableBufferPointer { target in
                let (from, to) = (SendablePointer(source.baseAddress!), SendableMutablePointer(target.baseAddress!))
                Parallel.run(Parallel.ranges(of: x.rows, work: x.values.count, minimumWork: 1 << 16)) { _, rows in
                    for row in rows {
                        let input = from.pointer + row * channels, output = to.pointer + row * 2 * channels
                        for c in 0..<channels {
                            output[2 * c] = input[c]
                            output[2 * c + 1] = input[c]
                        }
                    }
                }
            }
        }
        return doubled
    }
}

/// A dense convolution (groups = 1) as a `Linear` over im2col rows: each
/// output pixel's k × k × inputs patch, ordered (y, x, channel).
struct DenseConvolution: Sendable {
    let inputs: Int
    let window: ConvolutionWindow
    let linear: Linear

    init(_ folded: FoldedConvolution, stride: Int, precision: Precision) {
        let k = folded.kernel, inputs = folded.inputsPerGroup, outputs = folded.outputs
        self.inputs = inputs
        window = ConvolutionWindow(kernel: k, stride: stride)
        var weight = [Float](repeating: 0, count: outputs * k * k * inputs)
        for o in 0..<outputs {
            for i in 0..<inputs {
                for tap in 0..<k * k { weight[(o * k * k + tap) * inputs + i] = folded.weight[(o * inputs + i) * k * k + tap] }
            }
        }
        linear = Linear(weight: weight, bias: folded.bias, inputs: k * k * inputs, outputs: outputs, precision: precision)
    }

    func callAsFunction(_ x: FeatureMaps) -> FeatureMaps {
        precondition(x.channels == inputs)
        let (outHeight, outWidth) = window.outputSize(of: x)
        let (kernel, stride, padding, inputs, height, width) = (window.kernel, window.stride, window.padding, inputs, x.height, x.width)
        // im2col on every core, a band of output rows each; taps in the
        // padding stay zero.
        var patches = Matrix(zeros: x.images * outHeight * outWidth, kernel * kernel * inputs)
        let columns = patches.columns
        x.values.values.withUnsafeBufferPointer { source in
            patches.values.withUnsafeMutableBufferPointer { target in
                let (from, to) = (SendablePointer(source.baseAddress!), SendableMutablePointer(target.baseAddress!))
                let bands = x.images * outHeight
                Parallel.run(Parallel.ranges(of: bands, work: bands * outWidth * columns, minimumWork: 1 << 16)) { _, range in
                    for band in range {
                        let image = band / outHeight, oy = band % outHeight
                        for ox in 0..<outWidth {
                            let row = to.pointer + (band * outWidth + ox) * columns
                            for ky in 0..<kernel {
                                let iy = oy * stride + ky - padding
                                guard iy >= 0, iy < height else { continue }
                                for kx in 0..<kernel {
                                    let ix = ox * stride + kx - padding
                                    guard ix >= 0, ix < width else { continue }
                                    (row + (ky * kernel + kx) * inputs)
                                        .update(from: from.pointer + ((image * height + iy) * width + ix) * inputs, count: inputs)
                                }
                            }
                        }
                    }
                }
            }
        }
        return FeatureMaps(linear(patches), images: x.images, height: outHeight, width: outWidth)
    }
}

/// timm's SEModule: each image's channel means through fc1 (ReLU) and fc2
/// (sigmoid) scale its channels. Small enough to run as plain loops.
struct SqueezeExcite: Sendable {
    let channels: Int
    let reduced: Int
    let fc1: [Float], bias1: [Float], fc2: [Float], bias2: [Float]

    init(_ reader: WeightReader, _ prefix: String, channels: Int, reduced: Int) throws(CLIPError) {
        self.channels = channels
        self.reduced = reduced
        fc1 = try reader.tensor(prefix + ".fc1.weight", shape: [reduced, channels, 1, 1])
        bias1 = try reader.tensor(prefix + ".fc1.bias", shape: [reduced])
        fc2 = try reader.tensor(prefix + ".fc2.weight", shape: [channels, reduced, 1, 1])
        bias2 = try reader.tensor(prefix + ".fc2.bias", shape: [channels])
    }

    func callAsFunction(_ x: inout FeatureMaps) {
        let pixels = x.pixels, allMeans = x.channelMeans()
        for image in 0..<x.images {
            let means = allMeans.row(image)
            var hidden = [Float](repeating: 0, count: reduced)
            for r in 0..<reduced {
                var sum = bias1[r]
                for c in 0..<channels { sum += fc1[r * channels + c] * means[c] }
                hidden[r] = max(0, sum)
            }
            var gate = [Float](repeating: 0, count: channels)
            for c in 0..<channels {
                var sum = bias2[c]
                for r in 0..<reduced { sum += fc2[c * reduced + r] * hidden[r] }
                gate[c] = 1 / (1 + exp(-sum))
            }
            for pixel in 0..<pixels {
                let row = (image * pixels + pixel) * channels
                for c in 0..<channels { x.values.values[row + c] *= gate[c] }
            }
        }
    }
}
