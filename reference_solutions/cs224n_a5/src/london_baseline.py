"""Part (d): accuracy of always answering "London" on the dev set (run from the assignment root)."""
import utils

eval_path = "birth_dev.tsv"
with open(eval_path, encoding="utf-8") as f:
    n_lines = sum(1 for _ in f)
total, correct = utils.evaluate_places(eval_path, ["London"] * n_lines)
print("Correct: {} out of {}: {}%".format(correct, total, correct / total * 100))
