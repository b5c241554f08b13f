# Counts the words of the file given as {inputs.text}; a ShellTask's script_file.
wc -w < {inputs.text} | tr -d ' ' > {outputs.count}
