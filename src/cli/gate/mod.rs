//! `coe-bot gate validate`: measures the whole crisis gate on labelled real
//! posts (EPITOME's seeker side, labels in `data/gate/`). The classifier has
//! nothing to retrain: its bank is the embedded training text, rebuilt
//! whenever `data/gate/train/` changes.

mod validate;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Measure the gate on labelled EPITOME posts (skips when the data is absent).
    Validate(validate::ValidateArgs),
}

pub fn run(command: GateCommand) -> anyhow::Result<()> {
    match command {
        GateCommand::Validate(args) => validate::run(args),
    }
}
