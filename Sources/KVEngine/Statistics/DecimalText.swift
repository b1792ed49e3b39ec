/// Fixed-point formatting of doubles (`%.2f`), without Foundation.
enum DecimalText {
    /// `value` rounded to `fractionDigits` decimals, e.g. `format(1.005, fractionDigits: 2)` → `"1.01"`.
    static func format(_ value: Double, fractionDigits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
        var scale = 1.0
        for _ in 0..<fractionDigits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9.2e18 else { return String(value) }
        let units = UInt64(scaled)
        let integer = units / UInt64(scale)
        var text = (value < 0 && units > 0 ? "-" : "") + String(integer)
        if fractionDigits > 0 {
            let fraction = String(units % UInt64(scale))
            text += "." + String(repeating: "0", count: fractionDigits - fraction.count) + fraction
        }
        return text
    }
}
