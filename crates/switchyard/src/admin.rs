//! The operator's commands: accounts, credits and keys, straight against the store (a running
//! gateway picks changes up within a second).

use crate::StorageArgs;
use clap::Subcommand;
use switchyard_api::Money;
use switchyard_store::{Account, KeyRecord, Store};

#[derive(Subcommand)]
pub enum AccountsAction {
    /// Create a prepaid account (requests are refused with 402 once its credits run out).
    Create {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// List accounts with their balances.
    List {
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[derive(Subcommand)]
pub enum CreditsAction {
    /// Grant credits in USD (negative to remove), e.g. `--amount 25` or `--amount -0.50`.
    Grant {
        /// Account name or id (`default` is the operator's own).
        #[arg(long)]
        account: String,
        /// USD, exact decimal.
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Show an account's balance, recomputed from its ledger.
    Balance {
        #[arg(long)]
        account: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[derive(Subcommand)]
pub enum KeysAction {
    /// Create a key and print it (once).
    Create {
        /// Account name or id.
        #[arg(long, default_value = "default")]
        account: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// A management key: manages keys, cannot call inference.
        #[arg(long)]
        management: bool,
        /// Spending limit in USD.
        #[arg(long)]
        limit: Option<String>,
        /// When the limit resets: daily, weekly or monthly.
        #[arg(long)]
        limit_reset: Option<String>,
        /// Requests per minute.
        #[arg(long)]
        rpm: Option<i64>,
        /// Tokens per minute.
        #[arg(long)]
        tpm: Option<i64>,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

fn money(s: &str, what: &str) -> Result<Money, String> {
    Money::parse(s).map_err(|e| format!("{what}: {e}"))
}

fn pico(m: Money) -> Result<i64, String> {
    i64::try_from(m.pico()).map_err(|_| "amount too large".to_string())
}

async fn find_account(store: &Store, name: &str) -> Result<Account, String> {
    if name == "default" {
        return switchyard_server::accounts::bootstrap(store, &[])
            .await
            .map_err(|e| e.to_string());
    }
    store
        .account(name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "no account `{name}` (create it with `switchyard accounts create --name {name}`)"
            )
        })
}

async fn balance_of(store: &Store, account_id: &str) -> Result<Money, String> {
    let sum: i128 = store
        .ledger(account_id)
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|e| i128::from(e.amount_pico))
        .sum();
    Ok(Money::from_pico(sum))
}

pub async fn accounts(action: AccountsAction) -> Result<(), String> {
    match action {
        AccountsAction::Create { name, storage } => {
            let store = storage.open().await?;
            let id = format!("acct_{}", switchyard_server::routes::random_alnum(16));
            let a = store
                .create_account(&id, &name, false)
                .await
                .map_err(|e| format!("cannot create `{name}`: {e}"))?;
            println!("created account {} ({})", a.name, a.id);
        }
        AccountsAction::List { storage } => {
            let store = storage.open().await?;
            for a in store.accounts().await.map_err(|e| e.to_string())? {
                let kind = if a.unlimited { "unlimited" } else { "prepaid" };
                println!(
                    "{}\t{}\t{kind}\t${}",
                    a.name,
                    a.id,
                    balance_of(&store, &a.id).await?
                );
            }
        }
    }
    Ok(())
}

pub async fn credits(action: CreditsAction) -> Result<(), String> {
    match action {
        CreditsAction::Grant {
            account,
            amount,
            note,
            storage,
        } => {
            let store = storage.open().await?;
            let a = find_account(&store, &account).await?;
            let amount = money(&amount, "--amount")?;
            store
                .grant(&a.id, pico(amount)?, note.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "granted ${amount} to {}; balance ${}",
                a.name,
                balance_of(&store, &a.id).await?
            );
        }
        CreditsAction::Balance { account, storage } => {
            let store = storage.open().await?;
            let a = find_account(&store, &account).await?;
            println!("{}: ${}", a.name, balance_of(&store, &a.id).await?);
        }
    }
    Ok(())
}

pub async fn keys(action: KeysAction) -> Result<(), String> {
    let KeysAction::Create {
        account,
        name,
        management,
        limit,
        limit_reset,
        rpm,
        tpm,
        storage,
    } = action;
    if let Some(r) = &limit_reset {
        if !matches!(r.as_str(), "daily" | "weekly" | "monthly") {
            return Err("--limit-reset must be daily, weekly or monthly".into());
        }
    }
    let store = storage.open().await?;
    let a = find_account(&store, &account).await?;
    let secret = switchyard_server::auth::generate_key();
    let now = switchyard_store::now();
    store
        .insert_key(&KeyRecord {
            hash: switchyard_server::auth::hash_hex(&secret),
            account_id: a.id.clone(),
            name,
            label: switchyard_server::auth::label(&secret),
            management,
            limit_pico: limit
                .as_deref()
                .map(|l| money(l, "--limit").and_then(pico))
                .transpose()?,
            limit_reset,
            rpm,
            tpm,
            created_at: now,
            updated_at: now,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    println!("{secret}");
    eprintln!("(shown once; a running gateway picks it up within a second)");
    Ok(())
}
