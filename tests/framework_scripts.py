"""The tiny trainings tests/test_integrations*.py run in child processes: built in code, CPU,
no downloads. Each is the top of a script; the test adds how it logs."""

HF_MODEL = """
import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

torch.manual_seed(0)
model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=50, n_positions=16))
data = [{"input_ids": torch.randint(0, 50, (8,))} for _ in range(40)]
for d in data:
    d["labels"] = d["input_ids"]

def args(run_name, report_to, **kw):
    return TrainingArguments(**{
        "output_dir": "out", "max_steps": 20, "logging_steps": 5, "per_device_train_batch_size": 4,
        "report_to": report_to, "save_strategy": "no", "use_cpu": True, "run_name": run_name,
        "disable_tqdm": True, "learning_rate": 1e-3, **kw,
    })
"""

LIGHTNING_MODULE = """
import pickle
import torch
import lightning as L

class Tiny(L.LightningModule):
    def __init__(self, lr=0.1):
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(4, 1)
    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss
    def test_step(self, batch, _):
        x, y = batch
        self.log("test_loss", torch.nn.functional.mse_loss(self.layer(x), y))
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

torch.manual_seed(0)
x = torch.randn(64, 4)
dataset = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
loader = torch.utils.data.DataLoader(dataset, batch_size=8)

def trainer(max_epochs=2, **kw):
    return L.Trainer(max_epochs=max_epochs, log_every_n_steps=2, accelerator="cpu",
                     enable_progress_bar=False, enable_model_summary=False, **kw)

def fit(logger, model):
    trainer(max_epochs=3, logger=logger).fit(model, loader)
"""

ACCELERATE_LOOP = """
import torch
from accelerate import Accelerator

def train(acc, step_of=lambda i: i):
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    model, opt = acc.prepare(model, opt)
    torch.manual_seed(0)
    for i in range(10):
        x = torch.randn(8, 4)
        loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()
        acc.backward(loss)
        opt.step()
        opt.zero_grad()
        acc.log({"loss": loss.item()}, step=step_of(i))
    acc.end_training()
"""
