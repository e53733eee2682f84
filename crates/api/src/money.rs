//! Exact money. Amounts are integer pico-USD (1e-12 USD) in an `i128`: fine enough for the
//! cheapest per-token cache-read prices in any public price list, wide enough that no ledger
//! can overflow, and never a float.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Decimal places carried by [`Money`].
pub const SCALE: u32 = 12;
const UNIT: i128 = 1_000_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i128);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not a decimal number such as \"0.0000025\"")]
    NotDecimal(String),
    #[error("`{0}` has more than {SCALE} decimal places")]
    TooPrecise(String),
    #[error("`{0}` is too large")]
    Overflow(String),
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_pico(pico: i128) -> Self {
        Money(pico)
    }

    pub const fn pico(self) -> i128 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses a plain decimal string (`"0.0000025"`, `"-3"`, `"12.5"`) exactly.
    pub fn parse(s: &str) -> Result<Self, MoneyError> {
        let bad = || MoneyError::NotDecimal(s.to_string());
        let t = s.trim();
        let (neg, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int_part, frac_part) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let frac_trimmed = frac_part.trim_end_matches('0');
        if frac_trimmed.len() > SCALE as usize {
            return Err(MoneyError::TooPrecise(s.to_string()));
        }
        let overflow = || MoneyError::Overflow(s.to_string());
        let mut value: i128 = 0;
        for b in int_part.bytes() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i128::from(b - b'0')))
                .ok_or_else(overflow)?;
        }
        value = value.checked_mul(UNIT).ok_or_else(overflow)?;
        let mut frac: i128 = 0;
        for b in frac_trimmed.bytes() {
            frac = frac * 10 + i128::from(b - b'0');
        }
        frac *= 10i128.pow(SCALE - frac_trimmed.len() as u32);
        value = value.checked_add(frac).ok_or_else(overflow)?;
        Ok(Money(if neg { -value } else { value }))
    }

    /// Price × count, exact. Saturates rather than wraps (unreachable for real token counts).
    pub fn times(self, count: u64) -> Money {
        Money(self.0.saturating_mul(i128::from(count)))
    }

    pub fn saturating_add(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Money) -> Money {
        Money(self.0.saturating_sub(other.0))
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        self.saturating_add(rhs)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

/// Shortest exact decimal: `0`, `0.0000025`, `-1.5`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let unit = UNIT.unsigned_abs();
        let int = abs / unit;
        let frac = abs % unit;
        if neg {
            f.write_str("-")?;
        }
        write!(f, "{int}")?;
        if frac != 0 {
            // Every response prices itself several times over: no allocation here.
            let mut digits = [b'0'; SCALE as usize + 1];
            digits[0] = b'.';
            let mut rest = frac as u64; // < 10^12
            for d in digits[1..].iter_mut().rev() {
                *d = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
            let end = digits.iter().rposition(|&d| d != b'0').unwrap_or(0) + 1;
            f.write_str(std::str::from_utf8(&digits[..end]).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

/// Serialised as an exact JSON *number* (`"cost": 0.0000125`), as OpenRouter's `usage.cost` is.
/// Use [`DecimalString`] where the API wants a string.
impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = serde_json::value::RawValue::from_string(self.to_string())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw: &serde_json::value::RawValue = Deserialize::deserialize(deserializer)?;
        let text = raw.get().trim_matches('"');
        Money::parse(text).map_err(serde::de::Error::custom)
    }
}

/// A price or amount written as a decimal string, as OpenRouter's `pricing` fields are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecimalString(pub Money);

impl Serialize for DecimalString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DecimalString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Money::parse(&s)
            .map(DecimalString)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_exactly() {
        for s in [
            "0",
            "0.0000025",
            "3",
            "-1.5",
            "0.000000000001",
            "123456789.123",
        ] {
            assert_eq!(Money::parse(s).map(|m| m.to_string()), Ok(s.to_string()));
        }
        assert_eq!(
            Money::parse("0.0000025000").map(|m| m.pico()),
            Ok(2_500_000)
        );
        assert_eq!(Money::parse(".5").map(|m| m.to_string()), Ok("0.5".into()));
    }

    #[test]
    fn rejects_garbage_and_excess_precision() {
        assert!(matches!(
            Money::parse("abc"),
            Err(MoneyError::NotDecimal(_))
        ));
        assert!(matches!(Money::parse(""), Err(MoneyError::NotDecimal(_))));
        assert!(matches!(
            Money::parse("1e-5"),
            Err(MoneyError::NotDecimal(_))
        ));
        assert!(matches!(
            Money::parse("0.0000000000001"),
            Err(MoneyError::TooPrecise(_))
        ));
    }

    #[test]
    fn cost_is_exact_where_floats_are_not() {
        // 0.1 + 0.2 style drift: 3 tokens at $0.0000001 each is exactly $0.0000003.
        let p = Money::parse("0.0000001").unwrap_or_default();
        assert_eq!(p.times(3).to_string(), "0.0000003");
        let total: Money = [p.times(1), p.times(2)].into_iter().sum();
        assert_eq!(total, p.times(3));
    }

    #[test]
    fn serialises_as_json_number_and_string() {
        let m = Money::parse("0.0000125").unwrap_or_default();
        assert_eq!(serde_json::to_string(&m).ok(), Some("0.0000125".into()));
        assert_eq!(
            serde_json::to_string(&DecimalString(m)).ok(),
            Some("\"0.0000125\"".into())
        );
        let back: Money = serde_json::from_str("0.0000125").unwrap_or_default();
        assert_eq!(back, m);
    }
}
