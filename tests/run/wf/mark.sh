# mark.sh LOG -- a step of serial.poml: appends "start ID" to LOG, watches
# LOG for a while for another step's start (recording "overlap ID" when
# one appears), then appends "end ID".  The appends are single short
# writes with O_APPEND, so lines from concurrent steps never mix.
log=$1
id=$POML_STEP_ID
echo "start $id" >> "$log"
n=$(grep -c '^start' "$log")
i=0
while [ "$i" -lt 6 ]; do
    if [ "$(grep -c '^start' "$log")" -ne "$n" ]; then
        echo "overlap $id" >> "$log"
        break
    fi
    sleep 0.05
    i=$((i + 1))
done
echo "end $id" >> "$log"
