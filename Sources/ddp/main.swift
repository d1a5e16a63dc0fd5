print("ddp")
