//! Money: integer minor units in an ISO 4217 currency. No floats, ever.
#![deny(clippy::arithmetic_side_effects)]

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::MoneyError;

/// Active ISO 4217 codes with their minor-unit exponents (digits after the decimal point).
#[rustfmt::skip]
const ISO_4217: &[(&str, u8)] = &[
    ("AED", 2), ("AFN", 2), ("ALL", 2), ("AMD", 2), ("ANG", 2), ("AOA", 2), ("ARS", 2),
    ("AUD", 2), ("AWG", 2), ("AZN", 2), ("BAM", 2), ("BBD", 2), ("BDT", 2), ("BGN", 2),
    ("BHD", 3), ("BIF", 0), ("BMD", 2), ("BND", 2), ("BOB", 2), ("BRL", 2), ("BSD", 2),
    ("BTN", 2), ("BWP", 2), ("BYN", 2), ("BZD", 2), ("CAD", 2), ("CDF", 2), ("CHF", 2),
    ("CLP", 0), ("CNY", 2), ("COP", 2), ("CRC", 2), ("CUP", 2), ("CVE", 2), ("CZK", 2),
    ("DJF", 0), ("DKK", 2), ("DOP", 2), ("DZD", 2), ("EGP", 2), ("ERN", 2), ("ETB", 2),
    ("EUR", 2), ("FJD", 2), ("FKP", 2), ("GBP", 2), ("GEL", 2), ("GHS", 2), ("GIP", 2),
    ("GMD", 2), ("GNF", 0), ("GTQ", 2), ("GYD", 2), ("HKD", 2), ("HNL", 2), ("HTG", 2),
    ("HUF", 2), ("IDR", 2), ("ILS", 2), ("INR", 2), ("IQD", 3), ("IRR", 2), ("ISK", 0),
    ("JMD", 2), ("JOD", 3), ("JPY", 0), ("KES", 2), ("KGS", 2), ("KHR", 2), ("KMF", 0),
    ("KPW", 2), ("KRW", 0), ("KWD", 3), ("KYD", 2), ("KZT", 2), ("LAK", 2), ("LBP", 2),
    ("LKR", 2), ("LRD", 2), ("LSL", 2), ("LYD", 3), ("MAD", 2), ("MDL", 2), ("MGA", 2),
    ("MKD", 2), ("MMK", 2), ("MNT", 2), ("MOP", 2), ("MRU", 2), ("MUR", 2), ("MVR", 2),
    ("MWK", 2), ("MXN", 2), ("MYR", 2), ("MZN", 2), ("NAD", 2), ("NGN", 2), ("NIO", 2),
    ("NOK", 2), ("NPR", 2), ("NZD", 2), ("OMR", 3), ("PAB", 2), ("PEN", 2), ("PGK", 2),
    ("PHP", 2), ("PKR", 2), ("PLN", 2), ("PYG", 0), ("QAR", 2), ("RON", 2), ("RSD", 2),
    ("RUB", 2), ("RWF", 0), ("SAR", 2), ("SBD", 2), ("SCR", 2), ("SDG", 2), ("SEK", 2),
    ("SGD", 2), ("SHP", 2), ("SLE", 2), ("SOS", 2), ("SRD", 2), ("SSP", 2), ("STN", 2),
    ("SVC", 2), ("SYP", 2), ("SZL", 2), ("THB", 2), ("TJS", 2), ("TMT", 2), ("TND", 3),
    ("TOP", 2), ("TRY", 2), ("TTD", 2), ("TWD", 2), ("TZS", 2), ("UAH", 2), ("UGX", 0),
    ("USD", 2), ("UYI", 0), ("UYU", 2), ("UYW", 4), ("UZS", 2), ("VES", 2), ("VND", 0),
    ("VUV", 0), ("WST", 2), ("XAF", 0), ("XCD", 2), ("XOF", 0), ("XPF", 0), ("YER", 2),
    ("ZAR", 2), ("ZMW", 2), ("ZWG", 2),
];

/// An ISO 4217 currency, such as `EUR`; three upper-case ASCII letters.
///
/// ```
/// use audience::Currency;
/// let eur = Currency::new("EUR")?;
/// assert_eq!(eur.exponent(), 2);
/// assert_eq!(Currency::new("JPY")?.exponent(), 0);
/// assert!(Currency::new("XYZ").is_err());
/// # Ok::<(), audience::MoneyError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

impl Currency {
    /// Looks a code up in the ISO 4217 table.
    ///
    /// # Errors
    /// [`MoneyError::UnknownCurrency`] for a code that is not an active ISO 4217 code.
    pub fn new(code: &str) -> Result<Self, MoneyError> {
        ISO_4217
            .iter()
            .find(|(c, _)| *c == code)
            .and_then(|&(c, exponent)| {
                let b = c.as_bytes();
                Some(Currency {
                    code: [*b.first()?, *b.get(1)?, *b.get(2)?],
                    exponent,
                })
            })
            .ok_or_else(|| MoneyError::UnknownCurrency(code.chars().take(16).collect()))
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // Codes come from the ASCII table above.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// The currency packed into four bytes (for compact storage).
    pub(crate) fn to_bits(self) -> [u8; 4] {
        let [a, b, c] = self.code;
        [a, b, c, self.exponent]
    }

    /// Unpacks [`Currency::to_bits`].
    pub(crate) fn from_bits(bits: [u8; 4]) -> Currency {
        let [a, b, c, exponent] = bits;
        Currency {
            code: [a, b, c],
            exponent,
        }
    }

    /// Digits after the decimal point in the currency's minor unit (2 for EUR, 0 for JPY).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, MoneyError> {
        Currency::new(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_string()
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount of money: integer minor units (cents for EUR) in one currency.
///
/// ```
/// use audience::{Currency, Money};
/// let eur = Currency::new("EUR")?;
/// let a = Money::new(1_299, eur);
/// assert_eq!(a.checked_add(Money::new(1, eur))?, Money::new(1_300, eur));
/// assert!(a.checked_add(Money::new(1, Currency::new("USD")?)).is_err());
/// assert!(Money::new(i64::MAX, eur).checked_add(a).is_err());
/// assert_eq!(a.to_string(), "12.99 EUR");
/// # Ok::<(), audience::MoneyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount in minor units.
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// An amount in minor units.
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    /// The exact sum.
    ///
    /// # Errors
    /// [`MoneyError::MixedCurrencies`] for two currencies; [`MoneyError::Overflow`] when the
    /// sum does not fit in an `i64`.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::MixedCurrencies {
                left: self.currency,
                right: other.currency,
            });
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow {
                currency: self.currency,
            })?;
        Ok(Money::new(minor, self.currency))
    }
}

impl Money {
    /// Parses a decimal amount in major units, exactly, with no float involved: an
    /// optional `-`, digits, and optionally `.` and 1 to `exponent` digits (`"12.5"`,
    /// `"-0.99"`, `"7"`; surrounding white space is ignored).
    ///
    /// ```
    /// use audience::{Currency, Money};
    /// let usd = Currency::new("USD")?;
    /// assert_eq!(Money::parse("12.5", usd)?.minor, 1250);
    /// assert_eq!(Money::parse("-0.99", usd)?.minor, -99);
    /// assert!(Money::parse("12.345", usd).is_err());
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`MoneyError::BadAmount`] for anything else (empty, `abc`, too many decimals);
    /// [`MoneyError::Overflow`] when it does not fit in an `i64` of minor units.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let bad = || MoneyError::BadAmount {
            text: text.chars().take(64).collect(),
            currency,
        };
        let trimmed = text.trim();
        let (negative, digits) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let (whole, fraction) = match digits.split_once('.') {
            Some((w, f)) if !f.is_empty() => (w, f),
            Some(_) => return Err(bad()),
            None => (digits, ""),
        };
        let exponent = usize::from(currency.exponent());
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(fraction)
            || fraction.len() > exponent
        {
            return Err(bad());
        }
        let overflow = || MoneyError::Overflow { currency };
        let mut minor: i64 = 0;
        let padded = fraction
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(exponent);
        for b in whole.bytes().chain(padded) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b.saturating_sub(b'0'))))
                .ok_or_else(overflow)?;
        }
        // A non-negative i64 always negates.
        let signed = if negative {
            0i64.saturating_sub(minor)
        } else {
            minor
        };
        Ok(Money::new(signed, currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = u32::from(self.currency.exponent);
        if exp == 0 {
            return write!(f, "{} {}", self.minor, self.currency);
        }
        let scale = 10u64.pow(exp);
        let abs = self.minor.unsigned_abs();
        let sign = if self.minor < 0 { "-" } else { "" };
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            abs.checked_div(scale).unwrap_or_default(),
            abs.checked_rem(scale).unwrap_or_default(),
            self.currency,
            width = exp as usize
        )
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // Tests compute on small constants.
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_well_formed() {
        for pair in ISO_4217.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        for (code, exp) in ISO_4217 {
            assert_eq!(code.len(), 3);
            assert!(code.bytes().all(|b| b.is_ascii_uppercase()));
            assert!(*exp <= 4);
            assert_eq!(Currency::new(code).unwrap().code(), *code);
        }
    }

    #[test]
    fn unknown_and_lowercase_codes_are_errors() {
        assert_eq!(
            Currency::new("eur"),
            Err(MoneyError::UnknownCurrency("eur".into()))
        );
        assert!(Currency::new("").is_err());
        assert!(serde_json::from_str::<Currency>("\"ABC\"").is_err());
        assert_eq!(
            serde_json::from_str::<Currency>("\"KWD\"")
                .unwrap()
                .exponent(),
            3
        );
    }

    #[test]
    fn display_uses_the_exponent() {
        let kwd = Currency::new("KWD").unwrap();
        assert_eq!(Money::new(-1_005, kwd).to_string(), "-1.005 KWD");
        assert_eq!(
            Money::new(5, Currency::new("JPY").unwrap()).to_string(),
            "5 JPY"
        );
        assert_eq!(
            Money::new(i64::MIN, Currency::new("USD").unwrap()).to_string(),
            "-92233720368547758.08 USD"
        );
    }

    #[test]
    fn sums_are_checked() {
        let usd = Currency::new("USD").unwrap();
        assert_eq!(
            Money::new(i64::MIN, usd).checked_add(Money::new(-1, usd)),
            Err(MoneyError::Overflow { currency: usd })
        );
    }
}
