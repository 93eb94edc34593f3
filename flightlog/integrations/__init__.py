"""Native integrations, for code that names flightlog instead of aliasing `wandb`:

    from flightlog.integrations.transformers import FlightlogCallback   # HF Trainer
    from flightlog.integrations.lightning import FlightlogLogger        # Lightning
    from flightlog.integrations.accelerate import FlightlogTracker      # Accelerate

Each module imports its framework when it is imported itself, never before: `import flightlog`
stays free of them. They log the same keys as wandb's integrations (`train/loss` with
`train/global_step`, `trainer/global_step`, ...) so runs compare across both paths.
"""
